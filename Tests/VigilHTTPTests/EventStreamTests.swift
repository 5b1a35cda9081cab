import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VigilCore
import VigilHTTP

#if canImport(Glibc)
    import Glibc
#endif

/// One event stream read over a real TCP connection as a browser's `EventSource` reads it: `GET /v1/events` with
/// `Last-Event-ID` when resuming, the chunked body decoded, the `id:` of every frame kept in order.
final class SSEConnection: @unchecked Sendable {
    private let fd: Int32
    private var raw: [UInt8] = []
    private var headerDone = false
    private var body: [UInt8] = []
    /// The ids of the frames received, in order.
    private(set) var ids: [Int64] = []
    /// Whether the server ended the stream.
    private(set) var ended = false

    init(port: Int, token: String, lastEventID: Int64?) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var tv = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
        var request = "GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\n"
        request += "Accept: text/event-stream\r\n"
        if let lastEventID { request += "Last-Event-ID: \(lastEventID)\r\n" }
        request += "\r\n"
        let bytes = Array(request.utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
    }

    deinit { close(fd) }

    /// Hangs up.
    func hangUp() { shutdown(fd, Int32(SHUT_RDWR)) }

    /// The decoded body so far, as text.
    var text: String { String(decoding: body, as: UTF8.self) }

    /// Reads until `done` holds, the server ends the stream, or `seconds` pass.
    func read(for seconds: Double, until done: (SSEConnection) -> Bool) {
        let end = Date().addingTimeInterval(seconds)
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while !ended, !done(self), Date() < end {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { ended = true }
            if n > 0 {
                raw += buffer[0..<n]
                decode()
            }
        }
    }

    /// Takes the headers off, then the chunked framing, then each complete frame's `id:`.
    private func decode() {
        if !headerDone {
            guard let r = find([13, 10, 13, 10], in: raw) else { return }
            raw.removeFirst(r + 4)
            headerDone = true
        }
        while let line = find([13, 10], in: raw) {
            let size = Int(String(decoding: raw[0..<line], as: UTF8.self), radix: 16) ?? 0
            guard raw.count >= line + 2 + size + 2 else { return }
            if size == 0 {
                ended = true
                return
            }
            body += raw[(line + 2)..<(line + 2 + size)]
            raw.removeFirst(line + 2 + size + 2)
        }
        while let frameEnd = find([10, 10], in: body) {
            let frame = String(decoding: body[0..<frameEnd], as: UTF8.self)
            body.removeFirst(frameEnd + 2)
            for l in frame.split(separator: "\n") where l.hasPrefix("id: ") {
                if let id = Int64(l.dropFirst(4)) { ids.append(id) }
            }
            seenText += frame + "\n\n"
        }
    }

    /// Every complete frame (and comment) received.
    private(set) var seenText = ""

    private func find(_ needle: [UInt8], in hay: [UInt8]) -> Int? {
        guard hay.count >= needle.count else { return nil }
        for i in 0...(hay.count - needle.count) where hay[i..<(i + needle.count)].elementsEqual(needle) { return i }
        return nil
    }
}

/// Runs blocking socket work on its own thread, off the cooperative pool that serves the server.
func onThread<T: Sendable>(_ f: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { c in Thread { c.resume(returning: f()) }.start() }
}

@Suite("the event stream over real HTTP")
struct EventStreamTests {
    @Test("a subscriber that falls behind still receives every event, in order, resuming with Last-Event-ID")
    func slowSubscriberMissesNothing() async throws {
        let h = APIHarness(hubBufferLimit: 16)
        let hub = h.env.hub
        h.store.onCommit { hub.publish($0) }
        let total: Int64 = 300
        try await h.app.test(.live) { client in
            let port = try #require(client.port)
            let first = try SSEConnection(port: port, token: APIHarness.op, lastEventID: nil)
            await onThread { first.read(for: 5) { $0.seenText.contains(": connected") } }
            #expect(first.seenText.contains(": connected"))
            // One commit of 300 events is published at once: far more than the stream's buffer of 16 can hold
            // before its writer catches up.
            let events = (1...total).map {
                NewEvent(.systemAlarm, at: Timestamp(seconds: 1_800_000_000), ["raised": true, "n": .int($0)])
            }
            _ = try await h.store.commit(
                CommitBatch(
                    session: nil, expectedVersion: nil, sessionID: nil, events: events, outbox: [], outboxUpdates: []))
            await onThread { first.read(for: 10) { _ in false } }
            #expect(first.ended, "the stream that fell behind was closed")
            #expect(first.ids.count < Int(total), "it fell behind")
            var received = first.ids
            var connections = 0
            while (received.last ?? 0) < total, connections < 10 {
                connections += 1
                let next = try SSEConnection(port: port, token: APIHarness.op, lastEventID: received.last ?? 0)
                await onThread { next.read(for: 5) { $0.ids.last == total } }
                received += next.ids
                next.hangUp()
            }
            #expect(received == Array(1...total), "every event once, in order: \(received.prefix(40))…")
            // The streams still open end here, as at shutdown, so the server can stop.
            hub.finishAll()
        }
    }
}
