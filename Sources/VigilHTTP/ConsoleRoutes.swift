import Foundation
import Hummingbird
import VigilCore

/// The routes the operator's shift console needs beyond the session API: the recorded reveal and check-in link, who is
/// connected, the history of ended sessions, a timeline export and the shift's figures.
enum ConsoleRoutes {
    /// Adds the console's routes to `/v1`.
    static func add(to v1: RouterGroup<VigilContext>, _ env: APIEnvironment) {
        // Reveals the whole session (the location, the callback number, the notes), and records who looked (least
        // privilege: operator and up; a viewer watches the board but is refused, since a reveal is for giving the
        // address to a dispatcher). Recorded on every call: an Idempotency-Key never replays it.
        v1.post("/sessions/{id}/location/reveal") { req, ctx in
            let (p, s) = try await recordedRead(req, ctx, env) { p, s in
                EventData.LocationViewed(by: p.actorName, role: p.role.rawValue, state: s.state)
            }
            env.logger.info("location revealed", metadata: ["session": "\(s.id)", "by": "\(p.name)"])
            return try VigilAPI.sessionResponse(s, env, status: .ok, disclosure: .full)
        }
        // The person's check-in link, which checks them in (and so stops a ladder): staff only, recorded every time.
        v1.post("/sessions/{id}/check-in-link") { req, ctx in
            let (p, s) = try await recordedRead(req, ctx, env, refuseEnded: true) { p, s in
                EventData.LinkViewed(by: p.actorName, role: p.role.rawValue, state: s.state)
            }
            env.logger.info("check-in link viewed", metadata: ["session": "\(s.id)", "by": "\(p.name)"])
            return VigilAPI.json([
                "id": .string(s.id.rawValue), "state": .string(s.state.rawValue),
                "check_in_url": .string(VigilAPI.checkInURL(s, env)),
            ])
        }
        v1.get("/operators/connected") { req, ctx in
            let me = try ctx.caller()
            let list: [JSONValue] = env.hub.owners().map { o in
                let role = env.auth.role(ofTokenNamed: o.owner)
                return [
                    "name": .string(o.owner), "role": .optional(role?.rawValue), "streams": .int(Int64(o.streams)),
                    "connected_since": .time(o.since), "staff": .bool(role?.isStaff ?? false),
                ]
            }
            return VigilAPI.json([
                "operators": .array(list), "you": ["name": .string(me.name), "role": .string(me.role.rawValue)],
            ])
        }
        v1.get("/history") { req, _ in
            let limit = try intParameter(req, "limit", default: 50, range: 1...500)
            let offset = try intParameter(req, "offset", default: 0, range: 0...9_500)
            let sessions = try await env.store.sessions(.state(.ended), limit: offset + limit + 1)
            let page = sessions.dropFirst(offset).prefix(limit)
            var rows: [JSONValue] = []
            for s in page {
                let events = try await env.store.events(of: s.id)
                rows.append(ShiftFigures.historyRow(s, events))
            }
            return VigilAPI.json([
                "sessions": .array(rows), "offset": .int(Int64(offset)), "limit": .int(Int64(limit)),
                "more": .bool(sessions.count > offset + limit),
            ])
        }
        v1.get("/sessions/{id}/timeline") { req, ctx in
            let p = try ctx.caller()
            let id = try VigilAPI.sessionID(ctx)
            guard try await env.engine.session(id) != nil else { throw VigilError.sessionNotFound }
            let events = try await env.store.events(of: id).map { p.role.isStaff ? $0 : $0.redacted() }
            switch req.uri.queryParameters["format"].map(String.init) ?? "json" {
            case "json":
                let list = try VigilJSON.decode(JSONValue.self, from: VigilJSON.encode(events))
                return download(
                    try VigilJSON.encode(JSONValue.object(["session_id": .string(id.rawValue), "events": list])),
                    type: "application/json", name: "\(id.rawValue)-timeline.json")
            case "csv":
                return download(
                    Array(TimelineCSV.render(events).utf8), type: "text/csv; charset=utf-8",
                    name: "\(id.rawValue)-timeline.csv")
            default:
                throw VigilError.invalid("format must be json or csv")
            }
        }
        v1.get("/stats") { req, _ in
            let hours = try intParameter(req, "hours", default: 24, range: 1...168)
            let now = env.engine.now()
            let hour = Int64(3_600_000)
            let firstHour = Timestamp(millis: (now.millis / hour - Int64(hours - 1)) * hour)
            let events = try await ShiftFigures.events(since: firstHour, store: env.store)
            return VigilAPI.json(ShiftFigures.stats(events, from: firstHour, hours: hours, now: now))
        }
    }

    /// A read that is recorded before it is answered: the caller, the session, and its event committed. The
    /// body must be empty or `{}`; an ended session's link no longer works, so asking for it is a conflict.
    static func recordedRead(
        _ req: Request, _ ctx: VigilContext, _ env: APIEnvironment, refuseEnded: Bool = false,
        _ record: (Principal, Session) -> some EventPayload
    ) async throws -> (Principal, Session) {
        let p = try ctx.caller()
        let id = try VigilAPI.sessionID(ctx)
        var req = req
        try Input.onlyKeys(try Input.object(try await VigilAPI.body(&req), allowEmpty: true), [], in: "")
        guard let s = try await env.engine.session(id) else { throw VigilError.sessionNotFound }
        if refuseEnded, s.state == .ended {
            throw VigilError.conflict("the session has ended: its check-in link no longer works")
        }
        let event = NewEvent(record(p, s), at: env.engine.now())
        _ = try await env.store.commit(
            CommitBatch(
                session: nil, expectedVersion: nil, sessionID: id, events: [event], outbox: [], outboxUpdates: []))
        return (p, s)
    }

    static func intParameter(_ req: Request, _ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int
    {
        guard let raw = req.uri.queryParameters[Substring(name)] else { return value }
        guard let n = Int(raw), range.contains(n) else {
            throw VigilError.invalid("\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return n
    }

    static func download(_ bytes: [UInt8], type: String, name: String) -> Response {
        Response(
            status: .ok,
            headers: [
                .contentType: type, .cacheControl: "no-store",
                .contentDisposition: "attachment; filename=\"\(name)\"",
            ], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

/// A session's timeline as CSV for a shift report: one row per event, every field quoted, and a cell that a
/// spreadsheet would run as a formula (`=`, `+`, `-`, `@`) prefixed with `'`.
public enum TimelineCSV {
    /// The CSV text of `events`.
    public static func render(_ events: [StoredEvent]) -> String {
        var out = "seq,at,type,by,role,source,details\r\n"
        for e in events {
            var rest: [String: JSONValue] = [:]
            if case .object(let o) = e.data { rest = o }
            let by = rest.removeValue(forKey: "by")?.stringValue ?? rest["operator"]?.stringValue ?? ""
            let role = rest.removeValue(forKey: "role")?.stringValue ?? ""
            let source = rest.removeValue(forKey: "source")?.stringValue ?? ""
            let details =
                rest.isEmpty
                ? ""
                : (try? VigilJSON.encode(JSONValue.object(rest))).map { String(decoding: $0, as: UTF8.self) }
                    ?? ""
            out +=
                [String(e.seq), e.at.rfc3339, e.type.rawValue, by, role, source, details].map(field).joined(
                    separator: ",")
                + "\r\n"
        }
        return out
    }

    static func field(_ s: String) -> String {
        var v = s
        if let first = v.first, "=+-@\t\r".contains(first) { v = "'" + v }
        return "\"" + v.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
