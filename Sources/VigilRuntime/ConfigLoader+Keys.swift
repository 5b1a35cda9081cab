import VigilCore
import Yams

/// `encryption: {previous_key_file: …}` or `{previous_key_env: …}`: the key being retired during a PostgreSQL key
/// rotation, held beside the current one.
extension ConfigLoader.Parser {
    mutating func previousKey(_ f: [(String, Node, Node)], _ c: inout VigilConfig) {
        for (k, _, sv) in f {
            if k == "previous_key_file" { c.previousKeyFile = string(sv, "encryption.previous_key_file") }
            if k == "previous_key_env" {
                c.previousKeyEnv = string(sv, "encryption.previous_key_env")
                if let name = c.previousKeyEnv, env[name] == nil {
                    fail(sv, "encryption.previous_key_env: the environment variable \(name) is not set")
                }
            }
        }
        if c.previousKeyFile != nil, c.previousKeyEnv != nil {
            fail(f[0].1, "encryption: give previous_key_file or previous_key_env, not both")
        }
    }
}
