import ArgumentParser
import Foundation
import VigilCore
import VigilRuntime

/// Where the client finds its bearer token.
enum ClientToken {
    /// `VIGIL_TOKEN`; else, for a server on this machine, the token the default setup wrote in
    /// `var/operator.token` (read from the current directory, never sent off the machine).
    static func find(server: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let t = environment["VIGIL_TOKEN"]?.trimmingCharacters(in: .whitespacesAndNewlines), !t.isEmpty {
            return t
        }
        guard isLoopback(server), let data = FileManager.default.contents(atPath: "var/operator.token") else {
            return nil
        }
        let t = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return t.isEmpty ? nil : t
    }

    /// Whether a URL names this machine.
    static func isLoopback(_ server: String) -> Bool {
        guard let host = URLComponents(string: server)?.host?.lowercased() else { return false }
        return host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }
}

/// How a read prints what it got.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case json
    case table
}

/// The options of every command that reads.
struct ReadOptions: ParsableArguments {
    @OptionGroup var client: ClientOptions
    @Option(name: .long, help: "How to print the answer: json or table.") var output: OutputFormat = .table
}

/// The options of every command that writes.
struct WriteOptions: ParsableArguments {
    @OptionGroup var client: ClientOptions
    @Option(
        name: .customLong("idempotency-key"),
        help: "The Idempotency-Key sent (default: a fresh UUID); repeating a command with the same key does it once.")
    var idempotencyKey: String?
    @Option(name: .long, help: "How to print the answer: json or table.") var output: OutputFormat = .json
}

/// One call to the server, its answer printed, its refusal exiting 1 and no answer exiting 3.
enum Call {
    /// Attempts a write makes when no answer arrives, under the same key.
    static let writeAttempts = 3

    /// A read: GET `path`; prints it as `output` says, with `columns` for the table of a list.
    @discardableResult
    static func read(_ options: ReadOptions, _ path: String, list: String? = nil, columns: [String] = [])
        async throws -> JSONValue?
    {
        let (status, body) = try await options.client.client().send("GET", path)
        try refuseOnError(status, body)
        if let body { Table.print(body, as: options.output, list: list, columns: columns) }
        return body
    }

    /// A write under an Idempotency-Key, sent again with the same key when no answer arrived (the server does it
    /// once); prints the answer.
    @discardableResult
    static func write(
        _ options: WriteOptions, _ method: String, _ path: String, body: JSONValue? = [:], list: String? = nil,
        columns: [String] = [], printing: Bool = true
    ) async throws -> JSONValue? {
        let client = try options.client.client()
        let key = options.idempotencyKey ?? UUID().uuidString.lowercased()
        var lastError: ServerUnreachable?
        for attempt in 1...writeAttempts {
            do {
                let (status, answer) = try await client.send(
                    method, path, body: body, headers: [("Idempotency-Key", key)])
                try refuseOnError(status, answer)
                if printing, let answer { Table.print(answer, as: options.output, list: list, columns: columns) }
                return answer
            } catch let e as ServerUnreachable {
                lastError = e
                if attempt < writeAttempts {
                    FileHandle.standardError.write(
                        Data("vigil: no answer (\(e.reason)); trying again with the same Idempotency-Key\n".utf8))
                    try await Task.sleep(for: .milliseconds(500 * attempt))
                }
            }
        }
        throw lastError ?? ServerUnreachable(server: options.client.server, reason: "no answer")
    }

    /// Exits 1, saying the server's message, when the status is an error.
    static func refuseOnError(_ status: Int, _ body: JSONValue?) throws {
        guard status >= 400 else { return }
        let message = body?["error"]?["message"]?.stringValue ?? "HTTP \(status)"
        FileHandle.standardError.write(Data("vigil: \(message) (HTTP \(status))\n".utf8))
        throw ExitCode(1)
    }

    /// `?name=value&…` of the values given, percent-encoded.
    static func query(_ items: [(String, String?)]) -> String {
        var c = URLComponents()
        c.queryItems = items.compactMap { k, v in v.map { URLQueryItem(name: k, value: $0) } }
        return (c.queryItems ?? []).isEmpty ? "" : "?" + (c.percentEncodedQuery ?? "")
    }
}

/// Prints JSON answers as tables.
enum Table {
    /// Prints `value`: as JSON, or as a table of `list`'s items (the `columns` given, else their scalar keys), or as
    /// `key: value` lines.
    static func print(_ value: JSONValue, as format: OutputFormat, list: String? = nil, columns: [String] = []) {
        guard format == .table else {
            Swift.print(pretty(value))
            return
        }
        if let list, case .array(let items)? = value[list] {
            rows(items, columns: columns)
        } else if case .array(let items) = value {
            rows(items, columns: columns)
        } else {
            for (k, v) in flatten(value, prefix: "") { Swift.print("\(k): \(v)") }
        }
    }

    static func rows(_ items: [JSONValue], columns: [String]) {
        guard !items.isEmpty else {
            Swift.print("(none)")
            return
        }
        var cols = columns
        if cols.isEmpty, case .object(let first) = items[0] {
            cols = first.keys.sorted().filter { first[$0].map(isScalar) ?? false }
        }
        let cells = items.map { item in cols.map { cell(item, $0) } }
        let widths = cols.indices.map { i in max(cols[i].count, cells.map { $0[i].count }.max() ?? 0) }
        func line(_ values: [String]) -> String {
            zip(values, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }
        Swift.print(line(cols.map { $0.uppercased() }))
        for row in cells { Swift.print(line(row)) }
    }

    /// A dotted path (`caller.alias`) read from an item, as text.
    static func cell(_ item: JSONValue, _ path: String) -> String {
        var v: JSONValue? = item
        for part in path.split(separator: ".") { v = v?[String(part)] }
        guard let v else { return "-" }
        return text(v)
    }

    static func isScalar(_ v: JSONValue) -> Bool {
        switch v {
        case .object, .array: return false
        default: return true
        }
    }

    static func text(_ v: JSONValue) -> String {
        switch v {
        case .null: return "-"
        case .string(let s): return s
        case .object, .array:
            return String(decoding: (try? VigilJSON.encode(v)) ?? [], as: UTF8.self)
        default: return String(decoding: (try? VigilJSON.encode(v)) ?? [], as: UTF8.self)
        }
    }

    static func flatten(_ v: JSONValue, prefix: String) -> [(String, String)] {
        switch v {
        case .object(let o):
            return o.keys.sorted().flatMap { k in
                flatten(o[k] ?? .null, prefix: prefix.isEmpty ? k : "\(prefix).\(k)")
            }
        default:
            return [(prefix.isEmpty ? "value" : prefix, text(v))]
        }
    }
}
