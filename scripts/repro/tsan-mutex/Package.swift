// swift-tools-version: 6.1
// ThreadSanitizer on Linux reports a correctly locked `Mutex` as a race: see README.md.
import PackageDescription

let package = Package(
    name: "tsan-mutex",
    targets: [.executableTarget(name: "tsan-mutex", swiftSettings: [.swiftLanguageMode(.v6)])]
)
