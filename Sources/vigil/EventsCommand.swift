import ArgumentParser
import Foundation
import Synchronization
import VigilCore
import VigilRuntime

/// `GET /v1/events`, followed: every event as it commits, reconnecting with `Last-Event-ID` when the stream ends or
/// breaks, so that nothing is missed across a restart of the server.
struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Follow the event stream, reconnecting with Last-Event-ID so that no event is missed.")
    @OptionGroup var options: ReadOptions
    @Option(name: .customLong("last-event-id"), help: "Start after this seq (0: from the first event kept).")
    var lastEventID: Int64?
    @Option(help: "Stop after this many events.") var count: Int?

    func validate() throws {
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
        if let lastEventID, lastEventID < 0 { throw ValidationError("--last-event-id must be 0 or more") }
    }

    func run() async throws {
        let client = try options.client.client()
        let parser = SSEParser(json: options.output == .json, limit: count)
        var last = lastEventID
        var connectedOnce = false
        while true {
            let r = await client.stream(lastEventID: last, onBytes: { parser.feed($0) })
            last = parser.lastSeq ?? last
            if r.status >= 400 {
                let message =
                    (try? VigilJSON.decode(JSONValue.self, from: parser.rawStart))?["error"]?["message"]?.stringValue
                    ?? "HTTP \(r.status)"
                FileHandle.standardError.write(Data("vigil: \(message) (HTTP \(r.status))\n".utf8))
                throw ExitCode(1)
            }
            if r.status == 0 && !connectedOnce && parser.received == 0 {
                throw ServerUnreachable(server: options.client.server, reason: r.error ?? "no answer")
            }
            connectedOnce = true
            let why = r.status == 0 ? "lost (\(r.error ?? "no answer"))" : "ended by the server"
            FileHandle.standardError.write(
                Data("vigil: event stream \(why); reconnecting after seq \(last.map(String.init) ?? "-")\n".utf8))
            parser.reset()
            try await Task.sleep(for: .seconds(1))
        }
    }
}

/// Reads Server-Sent Events frames (`id:`, `event:`, `data:`) out of the bytes as they arrive and prints each event.
final class SSEParser: Sendable {
    private struct State {
        var buffer: [UInt8] = []
        var lastSeq: Int64?
        var received = 0
        var rawStart: [UInt8] = []
    }
    private let state = Mutex(State())
    private let json: Bool
    private let limit: Int?

    init(json: Bool, limit: Int?) {
        self.json = json
        self.limit = limit
    }

    /// The seq of the last event printed.
    var lastSeq: Int64? { state.withLock { $0.lastSeq } }
    /// Events printed.
    var received: Int { state.withLock { $0.received } }
    /// The first bytes of the last answer (an error's body).
    var rawStart: [UInt8] { state.withLock { $0.rawStart } }

    /// Forgets a partial frame (a new connection starts clean).
    func reset() { state.withLock { $0.buffer = [] } }

    func feed(_ bytes: [UInt8]) {
        var out: [String] = []
        var done = false
        state.withLock { s in
            if s.rawStart.count < 4096 { s.rawStart.append(contentsOf: bytes.prefix(4096 - s.rawStart.count)) }
            s.buffer.append(contentsOf: bytes)
            while let end = Self.frameEnd(s.buffer) {
                let frame = String(decoding: s.buffer[..<end.start], as: UTF8.self)
                s.buffer.removeSubrange(..<end.next)
                guard let line = render(frame) else { continue }
                s.lastSeq = line.seq
                s.received += 1
                out.append(line.text)
                if let limit, s.received >= limit {
                    done = true
                    break
                }
            }
        }
        if !out.isEmpty { FileHandle.standardOutput.write(Data((out.joined(separator: "\n") + "\n").utf8)) }
        // Enough events: stop here, the stream would otherwise run on.
        if done { exit(0) }
    }

    /// Where the first frame ends (a blank line), and where the next begins.
    static func frameEnd(_ b: [UInt8]) -> (start: Int, next: Int)? {
        var i = 0
        while i + 1 < b.count {
            if b[i] == 10 && b[i + 1] == 10 { return (i, i + 2) }
            if i + 3 < b.count && b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 {
                return (i, i + 4)
            }
            i += 1
        }
        return nil
    }

    private func render(_ frame: String) -> (seq: Int64, text: String)? {
        var id: Int64?
        var data = ""
        for line in frame.split(separator: "\n", omittingEmptySubsequences: true) {
            let l = line.hasSuffix("\r") ? line.dropLast() : line
            if l.hasPrefix("id:") { id = Int64(l.dropFirst(3).trimmingCharacters(in: .whitespaces)) }
            if l.hasPrefix("data:") { data += l.dropFirst(5).trimmingCharacters(in: .whitespaces) }
        }
        guard let id, !data.isEmpty else { return nil }
        if json { return (id, data) }
        let e = try? VigilJSON.decode(JSONValue.self, from: Array(data.utf8))
        let cols = [
            String(id), e?["at"]?.stringValue ?? "-", e?["type"]?.stringValue ?? "-",
            e?["session_id"]?.stringValue ?? "-",
        ]
        return (id, cols.joined(separator: "  "))
    }
}
