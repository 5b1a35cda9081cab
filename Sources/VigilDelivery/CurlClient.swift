import CCurl
import Foundation
import Synchronization
import VigilCore

/// One HTTP request for libcurl.
public struct HTTPRequestSpec: Sendable {
    /// Absolute URL (http or https only).
    public var url: String
    /// Method: `POST`, `GET`, `PATCH`…
    public var method: String
    /// Header lines as name and value.
    public var headers: [(String, String)]
    /// The body, sent as is.
    public var body: [UInt8]
    /// Whole-transfer timeout.
    public var timeoutMillis: Int
    /// TLS material; verification always stays on.
    public var tls: TLSFiles?
    /// An explicit proxy; nil means none, whatever `http_proxy` and friends say.
    public var proxy: String?
    /// The most body bytes kept; the rest is read and dropped.
    public var maxResponseBytes = 65536
    /// Called with each piece of the body as it arrives, instead of keeping it (an event stream). A stream that
    /// sends nothing for 60 s (its keep-alives included) is ended.
    public var onBody: (@Sendable ([UInt8]) -> Void)? = nil

    /// Creates a request.
    public init(
        url: String, method: String = "POST", headers: [(String, String)] = [], body: [UInt8] = [],
        timeoutMillis: Int = 10_000, tls: TLSFiles? = nil, proxy: String? = nil
    ) {
        self.proxy = proxy
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
        self.timeoutMillis = timeoutMillis
        self.tls = tls
    }
}

/// Files for a private CA and mutual TLS.
public struct TLSFiles: Sendable, Hashable {
    /// A PEM bundle of CAs to trust for this target.
    public var caFile: String?
    /// A PEM client certificate.
    public var clientCertFile: String?
    /// The client certificate's PEM key.
    public var clientKeyFile: String?

    /// Creates TLS settings.
    public init(caFile: String? = nil, clientCertFile: String? = nil, clientKeyFile: String? = nil) {
        self.caFile = caFile
        self.clientCertFile = clientCertFile
        self.clientKeyFile = clientKeyFile
    }
}

/// What came back: a status, or a transport error.
public struct HTTPResult: Sendable {
    /// The HTTP status, 0 when no response arrived.
    public var status: Int
    /// libcurl's result code (0 = a response arrived).
    public var curlCode: Int
    /// libcurl's description of a transport error.
    public var error: String?
    /// Response headers, names in lower case.
    public var headers: [String: String]
    /// The first 64 KiB of the body.
    public var body: [UInt8]
    /// Creates a result.
    public init(status: Int, curlCode: Int, error: String? = nil, headers: [String: String] = [:], body: [UInt8] = []) {
        self.status = status
        self.curlCode = curlCode
        self.error = error
        self.headers = headers
        self.body = body
    }

    /// Whether the transfer timed out.
    public var timedOut: Bool { curlCode == Int(CURLE_OPERATION_TIMEDOUT.rawValue) }
}

/// A libcurl multi handle driven by one dedicated thread: every transfer runs concurrently on it, so a slow
/// receiver never blocks the caller, the scheduler or the API.
public final class CurlClient: Sendable {
    private final class Job: @unchecked Sendable {
        let spec: HTTPRequestSpec
        let continuation: CheckedContinuation<HTTPResult, Never>
        var easy: UnsafeMutableRawPointer?
        var headerList: UnsafeMutablePointer<curl_slist>?
        var body: [UInt8] = []
        var headers: [String: String] = [:]
        let errorBuffer: UnsafeMutablePointer<CChar> = {
            let p = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
            p.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
            return p
        }()

        deinit { errorBuffer.deallocate() }

        init(spec: HTTPRequestSpec, continuation: CheckedContinuation<HTTPResult, Never>) {
            self.spec = spec
            self.continuation = continuation
        }
    }

    private struct Shared {
        var submitted: [Job] = []
        var stopping = false
    }

    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_ALL)) }()

    // The multi handle is touched only by the loop thread, except curl_multi_wakeup, which is thread-safe.
    nonisolated(unsafe) private let multi: UnsafeMutableRawPointer
    private let shared = Mutex(Shared())
    private let lastTick = Atomic<Int64>(CurlClient.monotonicMillis())

    /// Starts the client and its thread.
    public init() {
        _ = Self.globalInit
        multi = curl_multi_init()
        _ = vigil_multi_setopt_long(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, 256)
        let thread = Thread { [self] in self.loop() }
        thread.name = "vigil-curl"
        thread.start()
    }

    /// Milliseconds of the monotonic clock when the loop last turned; the watchdog checks it moves.
    public var lastLoopTick: Int64 { lastTick.load(ordering: .relaxed) }

    /// Stops the loop; transfers in flight complete with an error.
    public func shutdown() {
        shared.withLock { $0.stopping = true }
        curl_multi_wakeup(multi)
    }

    /// Performs a request; never throws: a failure is in the result.
    public func perform(_ spec: HTTPRequestSpec) async -> HTTPResult {
        await withCheckedContinuation { cont in
            let job = Job(spec: spec, continuation: cont)
            let accepted = shared.withLock { s -> Bool in
                if s.stopping { return false }
                s.submitted.append(job)
                return true
            }
            if accepted {
                curl_multi_wakeup(multi)
            } else {
                cont.resume(
                    returning: HTTPResult(status: 0, curlCode: -1, error: "client stopped", headers: [:], body: []))
            }
        }
    }

    /// Milliseconds of the monotonic clock.
    public static func monotonicMillis() -> Int64 { SystemClocks.monotonicMillis() }

    private func loop() {
        var jobs: [UnsafeMutableRawPointer: Job] = [:]
        while true {
            lastTick.store(Self.monotonicMillis(), ordering: .relaxed)
            let (new, stopping) = shared.withLock { s -> ([Job], Bool) in
                let n = s.submitted
                s.submitted = []
                return (n, s.stopping)
            }
            for job in new {
                if let easy = start(job) {
                    jobs[easy] = job
                }
            }
            if stopping {
                for (easy, job) in jobs { finish(easy, job, code: CURLE_ABORTED_BY_CALLBACK) }
                break
            }
            var running: Int32 = 0
            curl_multi_perform(multi, &running)
            var queued: Int32 = 0
            while let msg = curl_multi_info_read(multi, &queued) {
                guard msg.pointee.msg == CURLMSG_DONE, let easy = msg.pointee.easy_handle else { continue }
                let code = msg.pointee.data.result
                if let job = jobs.removeValue(forKey: easy) {
                    finish(easy, job, code: code)
                }
            }
            curl_multi_poll(multi, nil, 0, 500, nil)
        }
        curl_multi_cleanup(multi)
    }

    private func start(_ job: Job) -> UnsafeMutableRawPointer? {
        guard let easy = curl_easy_init() else {
            job.continuation.resume(
                returning: HTTPResult(status: 0, curlCode: -1, error: "curl_easy_init failed", headers: [:], body: []))
            return nil
        }
        job.easy = easy
        let spec = job.spec
        _ = vigil_easy_setopt_string(easy, CURLOPT_URL, spec.url)
        _ = vigil_easy_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http,https")
        _ = vigil_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        _ = vigil_easy_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0)
        _ = vigil_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, spec.timeoutMillis)
        if spec.onBody != nil {
            _ = vigil_easy_setopt_long(easy, CURLOPT_LOW_SPEED_LIMIT, 1)
            _ = vigil_easy_setopt_long(easy, CURLOPT_LOW_SPEED_TIME, 60)
        }
        _ = vigil_easy_setopt_long(
            easy, CURLOPT_CONNECTTIMEOUT_MS, spec.timeoutMillis > 0 ? min(spec.timeoutMillis, 10_000) : 10_000)
        _ = vigil_easy_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, 1)
        _ = vigil_easy_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, 2)
        _ = vigil_easy_setopt_string(easy, CURLOPT_USERAGENT, "Vigil/1")
        // Proxy variables in the environment are ignored ("" turns libcurl's own reading of them off): a proxy that
        // answers 200 would make a dispatch look delivered that no dispatch centre saw.
        _ = vigil_easy_setopt_string(easy, CURLOPT_PROXY, spec.proxy ?? "")
        if let tls = spec.tls {
            if let ca = tls.caFile { _ = vigil_easy_setopt_string(easy, CURLOPT_CAINFO, ca) }
            if let cert = tls.clientCertFile { _ = vigil_easy_setopt_string(easy, CURLOPT_SSLCERT, cert) }
            if let key = tls.clientKeyFile { _ = vigil_easy_setopt_string(easy, CURLOPT_SSLKEY, key) }
        }
        switch spec.method {
        case "GET":
            _ = vigil_easy_setopt_long(easy, CURLOPT_HTTPGET, 1)
        default:
            if spec.method != "POST" { _ = vigil_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, spec.method) }
            _ = vigil_easy_setopt_long(easy, CURLOPT_POST, 1)
            _ = vigil_easy_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(spec.body.count))
            // COPYPOSTFIELDS copies the bytes: a Swift array's storage would not outlive this call.
            spec.body.withUnsafeBytes { raw in
                _ = vigil_easy_setopt_pointer(
                    easy, CURLOPT_COPYPOSTFIELDS,
                    UnsafeMutableRawPointer(mutating: raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!))
            }
        }
        var list: UnsafeMutablePointer<curl_slist>?
        // An empty Expect header stops curl waiting for "100 Continue" on larger bodies.
        for line in spec.headers.map({ "\($0.0): \($0.1)" }) + ["Expect:"] { list = curl_slist_append(list, line) }
        job.headerList = list
        _ = vigil_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, list)
        let ctx = Unmanaged.passUnretained(job).toOpaque()
        _ = vigil_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, ctx)
        _ = vigil_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, ctx)
        _ = vigil_easy_setopt_write_callback(easy) { ptr, size, n, user in
            let job = Unmanaged<Job>.fromOpaque(user!).takeUnretainedValue()
            let count = size * n
            if let ptr, let onBody = job.spec.onBody {
                ptr.withMemoryRebound(to: UInt8.self, capacity: count) {
                    onBody(Array(UnsafeBufferPointer(start: $0, count: count)))
                }
            } else if let ptr, job.body.count < job.spec.maxResponseBytes {
                let take = min(count, job.spec.maxResponseBytes - job.body.count)
                ptr.withMemoryRebound(to: UInt8.self, capacity: take) {
                    job.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: take))
                }
            }
            return count
        }
        _ = vigil_easy_setopt_header_callback(easy) { ptr, size, n, user in
            let job = Unmanaged<Job>.fromOpaque(user!).takeUnretainedValue()
            let count = size * n
            if let ptr {
                let line = ptr.withMemoryRebound(to: UInt8.self, capacity: count) {
                    String(decoding: UnsafeBufferPointer(start: $0, count: count), as: UTF8.self)
                }
                if line.hasPrefix("HTTP/") { job.headers = [:] }
                if let colon = line.firstIndex(of: ":") {
                    let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
                    let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
                    job.headers[name] = value
                }
            }
            return count
        }
        _ = vigil_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, job.errorBuffer)
        curl_multi_add_handle(multi, easy)
        return easy
    }

    private func finish(_ easy: UnsafeMutableRawPointer, _ job: Job, code: CURLcode) {
        var status = 0
        _ = vigil_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        let message: String? =
            code == CURLE_OK
            ? nil
            : {
                let detail = String(cString: job.errorBuffer)
                return detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            }()
        curl_multi_remove_handle(multi, easy)
        curl_easy_cleanup(easy)
        curl_slist_free_all(job.headerList)
        job.continuation.resume(
            returning: HTTPResult(
                status: code == CURLE_OK ? status : 0, curlCode: Int(code.rawValue), error: message,
                headers: job.headers, body: job.body))
    }
}
