// swift-tools-version: 6.1
// A reduced reproduction of a release-only fault in Swift 6.3.1 on Linux x86_64: a task group whose child
// result is `(Int, Result<[Int], any Error>)` hands the parent a result that no child returned. See README.md.
import PackageDescription

let package = Package(
    name: "taskgroup-result",
    targets: [.executableTarget(name: "taskgroup-result", swiftSettings: [.swiftLanguageMode(.v6)])]
)
