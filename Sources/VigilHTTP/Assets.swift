import Foundation
import Hummingbird
import VigilCore

/// The console's files and the OpenAPI document, bundled as package resources (no CDN, no internet needed).
struct Assets: Sendable {
    let directory: String?

    init(directory: String?) {
        self.directory = directory ?? Bundle.module.resourceURL.map { $0.appendingPathComponent("Assets").path }
    }

    func response(_ name: String) throws -> Response {
        guard let dir = directory, !name.contains(".."),
            let data = FileManager.default.contents(atPath: dir + "/" + name)
        else { throw VigilError(.notFound, "no such file") }
        let type: String
        switch (name as NSString).pathExtension {
        case "html": type = "text/html; charset=utf-8"
        case "js": type = "text/javascript; charset=utf-8"
        case "css": type = "text/css; charset=utf-8"
        case "yaml": type = "application/yaml"
        case "svg": type = "image/svg+xml"
        case "json": type = "application/json"
        case "png": type = "image/png"
        default: type = "application/octet-stream"
        }
        return Response(
            status: .ok,
            headers: [
                .contentType: type, .cacheControl: "no-cache", .init("X-Content-Type-Options")!: "nosniff",
                .init("Content-Security-Policy")!:
                    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
            ],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
