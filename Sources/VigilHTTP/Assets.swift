import Foundation
import Hummingbird
import VigilCore

/// The console's files and the OpenAPI document, bundled as package resources (no CDN, no internet needed).
struct Assets: Sendable {
    /// Each file's response body and content type, by its path under the assets directory (`console/app.js`).
    private let files: [String: (type: String, bytes: ByteBuffer)]

    /// Reads every file once, at start: no request waits on the disk, and a file changed later is not served
    /// half-written. `directory` overrides the bundle (console development; restart to see a change).
    init(directory: String?) {
        let dir = directory ?? Bundle.module.resourceURL.map { $0.appendingPathComponent("Assets").path }
        var files: [String: (type: String, bytes: ByteBuffer)] = [:]
        if let dir, let names = FileManager.default.subpaths(atPath: dir) {
            for name in names where !name.contains("..") {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: dir + "/" + name, isDirectory: &isDirectory),
                    !isDirectory.boolValue, let data = FileManager.default.contents(atPath: dir + "/" + name)
                else { continue }
                files[name] = (Self.contentType(name), ByteBuffer(bytes: data))
            }
        }
        self.files = files
    }

    static func contentType(_ name: String) -> String {
        switch (name as NSString).pathExtension {
        case "html": return "text/html; charset=utf-8"
        case "js": return "text/javascript; charset=utf-8"
        case "css": return "text/css; charset=utf-8"
        case "yaml": return "application/yaml"
        case "svg": return "image/svg+xml"
        case "json": return "application/json"
        case "png": return "image/png"
        default: return "application/octet-stream"
        }
    }

    func response(_ name: String) throws -> Response {
        guard let file = files[name] else { throw VigilError(.notFound, "no such file") }
        return Response(
            status: .ok,
            headers: [
                .contentType: file.type, .cacheControl: "no-cache", .init("X-Content-Type-Options")!: "nosniff",
                .init("Content-Security-Policy")!:
                    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
            ],
            body: .init(byteBuffer: file.bytes))
    }
}
