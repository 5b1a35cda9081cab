import Foundation
import VigilCore

/// Percentiles of a sample, in the sample's unit.
struct Summary: CustomStringConvertible {
    let count: Int
    let p50: Double
    let p99: Double
    let max: Double

    init(_ values: [Double]) {
        let s = values.sorted()
        count = s.count
        func at(_ q: Double) -> Double {
            guard !s.isEmpty else { return .nan }
            let i = Int(exactly: (Double(s.count - 1) * Swift.min(Swift.max(q, 0), 1)).rounded(.down)) ?? 0
            return s[Swift.min(s.count - 1, Swift.max(0, i))]
        }
        p50 = at(0.5)
        p99 = at(0.99)
        max = s.last ?? .nan
    }

    var description: String {
        String(format: "n=%d p50=%.2f p99=%.2f max=%.2f", count, p50, p99, max)
    }
}

/// Resident set size of a process in bytes (this one by default), from /proc.
func residentBytes(pid: String = "self") -> Int {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
        return kb * 1024
    }
    return 0
}

func wallMillis() -> Int64 { SystemClocks.wallMillis() }

func wallMicros() -> Int64 { SystemClocks.wallMicros() }

func say(_ s: String) {
    FileHandle.standardOutput.write(Data((s + "\n").utf8))
}
