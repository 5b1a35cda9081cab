import Foundation
import VigilCore
import VigilDelivery
import VigilHTTP
import Yams

/// Reads the YAML configuration and names each error with its line.
public enum ConfigLoader {
    /// Loads and validates a file; `environment` resolves `*_env` names.
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws -> VigilConfig
    {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigErrors(issues: [ConfigIssue(line: nil, message: "cannot read \(path)")])
        }
        var config = try parse(
            String(decoding: data, as: UTF8.self), environment: environment,
            baseDirectory: (path as NSString).deletingLastPathComponent)
        config.sourceFile = path
        config.sha256 = SHA256Digest.hash(Array(data)).map { String(format: "%02x", $0) }.joined()
        return config
    }

    /// The built-in configuration: 127.0.0.1:8080, SQLite under `./var/`, one operator token kept in
    /// `var/operator.token` and printed at start, and a policy that alerts the console only.
    public static func builtIn(dataDirectory: String = "var") throws -> VigilConfig {
        var c = VigilConfig()
        c.sqlitePath = dataDirectory + "/vigil.sqlite"
        let tokenPath = dataDirectory + "/operator.token"
        try FileManager.default.createDirectory(
            atPath: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var token = (try? String(contentsOfFile: tokenPath, encoding: .utf8))?.trimmingCharacters(
            in: .whitespacesAndNewlines)
        if token?.isEmpty ?? true {
            let t = IDGenerator.system.make("vgl_", chars: 40)
            _ = FileManager.default.createFile(
                atPath: tokenPath, contents: Data((t + "\n").utf8), attributes: [.posixPermissions: 0o600])
            token = t
        }
        c.tokens = [TokenEntry(name: "operator", role: .operator, token: token!)]
        c.generatedToken = token
        return c
    }

    /// Parses YAML text.
    public static func parse(_ text: String, environment: [String: String], baseDirectory: String?) throws
        -> VigilConfig
    {
        let root: Node
        do {
            guard let n = try Yams.compose(yaml: text) else {
                throw ConfigErrors(issues: [ConfigIssue(line: nil, message: "the file is empty")])
            }
            root = n
        } catch let e as ConfigErrors {
            throw e
        } catch {
            throw ConfigErrors(issues: [ConfigIssue(line: nil, message: "not valid YAML: \(error)")])
        }
        var p = Parser(env: environment)
        p.baseDirectory = baseDirectory.flatMap { $0.isEmpty ? nil : $0 }
        var config = p.root(root)
        config.warnings = p.warnings
        if !p.issues.isEmpty { throw ConfigErrors(issues: p.issues.sorted { ($0.line ?? 0) < ($1.line ?? 0) }) }
        return config
    }

    struct Parser {
        let env: [String: String]
        var issues: [ConfigIssue] = []
        var warnings: [String] = []
        var dispatchTokenTargets: [(String, TargetName, Node)] = []
        /// Where relative paths in the file (polygon files) start.
        var baseDirectory: String?

        init(env: [String: String]) { self.env = env }

        mutating func fail(_ n: Node?, _ m: String) { issues.append(ConfigIssue(line: n?.mark?.line, message: m)) }

        mutating func map(_ n: Node, _ place: String, allowed: Set<String>) -> [(String, Node, Node)]? {
            guard let m = n.mapping else {
                fail(n, "\(place) must be a mapping")
                return nil
            }
            var out: [(String, Node, Node)] = []
            for (k, v) in m {
                guard let key = k.scalar?.string else {
                    fail(k, "\(place) has a key that is not text")
                    continue
                }
                if !allowed.isEmpty && !allowed.contains(key) {
                    fail(
                        k,
                        "unknown key \"\(key)\" in \(place) (expected one of: \(allowed.sorted().joined(separator: ", ")))"
                    )
                    continue
                }
                out.append((key, k, v))
            }
            return out
        }

        mutating func string(_ n: Node, _ place: String) -> String? {
            guard let s = n.scalar?.string, n.scalar?.style != nil || true else {
                fail(n, "\(place) must be text")
                return nil
            }
            return s
        }

        mutating func duration(_ n: Node, _ place: String, min: Double = 0, max: Double = 86_400 * 7) -> Millis? {
            guard let s = n.scalar?.string, let d = Double(s), d.isFinite else {
                fail(n, "\(place) must be a number of seconds (decimals allowed)")
                return nil
            }
            guard d >= min, d <= max else {
                fail(n, "\(place) must be between \(min) and \(max) seconds")
                return nil
            }
            return .seconds(decimal: d)
        }

        mutating func int(_ n: Node, _ place: String, range: ClosedRange<Int>) -> Int? {
            guard let s = n.scalar?.string, let i = Int(s), range.contains(i) else {
                fail(n, "\(place) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
                return nil
            }
            return i
        }

        mutating func targetNames(_ n: Node, _ place: String) -> [TargetName] {
            guard let seq = n.sequence else {
                fail(n, "\(place) must be a list of target names")
                return []
            }
            return seq.compactMap { x in
                guard let s = x.scalar?.string, !s.isEmpty else {
                    fail(x, "\(place) must list target names")
                    return nil
                }
                return TargetName(rawValue: s)
            }
        }

        /// Resolves `<name>_env` or `<name>_file`; the secret itself may not appear in the file.
        mutating func secret(_ fields: [(String, Node, Node)], _ name: String, _ place: String, owner: Node) -> String?
        {
            if let (_, k, _) = fields.first(where: { $0.0 == name }) {
                fail(k, "\(place).\(name): secrets are never written in the file; use \(name)_env or \(name)_file")
                return nil
            }
            let envField = fields.first { $0.0 == name + "_env" }
            let fileField = fields.first { $0.0 == name + "_file" }
            if envField != nil && fileField != nil {
                fail(owner, "\(place): give \(name)_env or \(name)_file, not both")
                return nil
            }
            if let (_, _, v) = envField {
                guard let varName = v.scalar?.string else {
                    fail(v, "\(place).\(name)_env must name an environment variable")
                    return nil
                }
                guard let value = env[varName], !value.isEmpty else {
                    fail(v, "\(place).\(name)_env: the environment variable \(varName) is not set")
                    return nil
                }
                return value
            }
            if let (_, _, v) = fileField {
                guard let path = v.scalar?.string else {
                    fail(v, "\(place).\(name)_file must be a path")
                    return nil
                }
                guard let data = FileManager.default.contents(atPath: path) else {
                    fail(v, "\(place).\(name)_file: cannot read \(path)")
                    return nil
                }
                return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            }
            fail(owner, "\(place) needs \(name)_env or \(name)_file")
            return nil
        }
    }
}
