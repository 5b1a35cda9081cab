import Foundation
import VigilCore
import Yams

extension ConfigLoader.Parser {
    /// `accept_timeout_s` / `arrival_timeout_s` of every target that sets one (the closed loop; off unless set).
    mutating func loopTimeouts(_ n: Node?) -> [TargetName: LoopTimeouts] {
        var out: [TargetName: LoopTimeouts] = [:]
        guard let targets = n?.mapping else { return out }
        for (nameNode, v) in targets {
            guard let name = nameNode.scalar?.string, let m = v.mapping else { continue }
            var t = LoopTimeouts()
            for (k, kv) in m {
                switch k.scalar?.string {
                case "accept_timeout_s":
                    t.accept = duration(kv, "target \(name).accept_timeout_s", min: 1, max: 86_400)
                case "arrival_timeout_s":
                    t.arrival = duration(kv, "target \(name).arrival_timeout_s", min: 1, max: 86_400)
                default: break
                }
            }
            if t.accept != nil || t.arrival != nil { out[TargetName(rawValue: name)] = t }
        }
        return out
    }

    /// `follow_up: {after_s: 86400}`.
    mutating func followUp(_ n: Node) -> Millis? {
        guard let f = map(n, "follow_up", allowed: ["after_s"]) else { return nil }
        var after: Millis?
        for (_, _, v) in f { after = duration(v, "follow_up.after_s", min: 0, max: 86_400 * 90) }
        return after
    }

    /// `routes:`: a list of entries, each `polygon_file` or attributes (`country`, `region`,
    /// `postal_code_prefix`) with a `target`, or `{default: TARGET}`; every target must exist and every polygon
    /// file must parse.
    mutating func routes(_ n: Node, targets: Set<TargetName>, baseDirectory: String?) -> RouteTable? {
        guard let seq = n.sequence else {
            fail(n, "routes must be a list, e.g. [{country: US, region: IL, target: ems-illinois}, {default: ems}]")
            return nil
        }
        var rules: [RouteRule] = []
        for (i, item) in seq.enumerated() {
            let place = "routes entry \(i + 1)"
            guard
                let f = map(
                    item, place,
                    allowed: ["polygon_file", "country", "region", "postal_code_prefix", "target", "default"])
            else { continue }
            var values: [String: (String, Node)] = [:]
            for (k, _, v) in f {
                guard let s = string(v, "\(place).\(k)"), !s.trimmingCharacters(in: .whitespaces).isEmpty else {
                    fail(v, "\(place).\(k) must be non-empty text")
                    continue
                }
                values[k] = (s, v)
            }
            if let (name, node) = values["default"] {
                let t = TargetName(rawValue: name)
                if values.count > 1 { fail(item, "\(place): a default entry is {default: TARGET} and nothing else") }
                if !targets.contains(t) { fail(node, "\(place).default names an unknown target \"\(t)\"") }
                rules.append(RouteRule(.fallback, target: t))
                continue
            }
            guard let (name, tnode) = values["target"] else {
                fail(item, "\(place) needs a target (or is {default: TARGET})")
                continue
            }
            let target = TargetName(rawValue: name)
            if !targets.contains(target) { fail(tnode, "\(place).target names an unknown target \"\(target)\"") }
            if let (file, fnode) = values["polygon_file"] {
                if values.count > 2 {
                    fail(item, "\(place): a polygon_file entry names only the file and its target")
                }
                let path = file.hasPrefix("/") ? file : baseDirectory.map { $0 + "/" + file } ?? file
                guard let data = FileManager.default.contents(atPath: path) else {
                    fail(fnode, "\(place).polygon_file: cannot read \(file)")
                    continue
                }
                guard data.count <= 64 << 20 else {
                    fail(fnode, "\(place).polygon_file: \(file) is larger than 64 MiB")
                    continue
                }
                do {
                    let polys = try GeoJSON.polygons(from: Array(data))
                    rules.append(RouteRule(.polygon(file: file, polys), target: target))
                } catch let e as VigilError {
                    fail(fnode, "\(place).polygon_file: \(file) is not usable GeoJSON: \(e.message)")
                } catch {
                    fail(fnode, "\(place).polygon_file: \(file) is not usable GeoJSON")
                }
                continue
            }
            let country = values["country"]?.0
            let region = values["region"]?.0
            let prefix = values["postal_code_prefix"]?.0
            guard country != nil || region != nil || prefix != nil else {
                fail(item, "\(place) needs polygon_file, country, region or postal_code_prefix (or is {default: …})")
                continue
            }
            rules.append(
                RouteRule(.attributes(country: country, region: region, postalCodePrefix: prefix), target: target))
        }
        return RouteTable(rules)
    }

    /// Checks the word `route` in dispatch steps: it needs `routes:`, and no target may be called `route`.
    mutating func checkRouteWord(
        _ policies: [String: Policy], hasRoutes: Bool, targets: Set<TargetName>, node: Node?
    ) {
        if targets.contains(RouteTable.word) {
            fail(node, "a target may not be named \"route\": in a dispatch step that word means the session's route")
        }
        guard !hasRoutes else { return }
        for (name, p) in policies.sorted(by: { $0.key < $1.key }) {
            for step in p.steps where step.isDispatch && step.targets.contains(RouteTable.word) {
                fail(node, "policy \(name): a dispatch step names route, but no routes: are configured")
            }
        }
    }
}
