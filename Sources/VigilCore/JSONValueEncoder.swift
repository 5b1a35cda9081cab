/// Encodes any `Encodable` straight into a `JSONValue`, without going through bytes: typed event payloads become
/// the log's JSON this way on every command. With `snakeCaseKeys`, the value's own property names become snake case
/// (`webhookIDs` is `webhook_ids`, `lateMs` is `late_ms`), as `JSONValueDecoder` reads them back; keys of nested
/// values (a dictionary's keys, a type's own `CodingKeys`) are never changed.
/// Optionals encoded with `encodeIfPresent` (what `Codable` synthesizes) are left out when nil; an explicit
/// `encode(nil)` writes `null`, as `JSONEncoder` does.
public enum JSONValueEncoder {
    /// The value's JSON.
    public static func encode(_ value: some Encodable, snakeCaseKeys: Bool = false) throws -> JSONValue {
        if let p = primitive(value) { return p }
        let n = Node()
        try value.encode(to: ValueEncoder(node: n, codingPath: [], snakeCase: snakeCaseKeys))
        return n.json
    }

    /// `lateMs` → `late_ms`, `webhookIDs` → `webhook_ids`, `graceS` → `grace_s`: a break before each capital
    /// that follows a small letter or a digit, and everything in small letters.
    public static func snakeCase(_ key: String) -> String {
        var out = ""
        var previousIsLowerOrDigit = false
        var changed = false
        for ch in key {
            if ch.isUppercase {
                if previousIsLowerOrDigit { out.append("_") }
                out.append(contentsOf: ch.lowercased())
                previousIsLowerOrDigit = false
                changed = true
            } else {
                out.append(ch)
                previousIsLowerOrDigit = ch.isLowercase || ch.isNumber
            }
        }
        return changed ? out : key
    }

    /// A value being built: containers are filled in place, then turned into `JSONValue` once at the end.
    final class Node {
        enum Content {
            case empty
            case value(JSONValue)
            case object([String: Node])
            case array([Node])
        }
        var content: Content = .empty

        var json: JSONValue {
            switch content {
            case .empty: return .object([:])
            case .value(let v): return v
            case .object(let o): return .object(o.mapValues(\.json))
            case .array(let a): return .array(a.map(\.json))
            }
        }

        func set(_ key: String, _ child: Node) {
            guard case .object(var o) = content else {
                content = .object([key: child])
                return
            }
            content = .empty  // keeps `o` uniquely referenced while it changes
            o[key] = child
            content = .object(o)
        }

        func append(_ child: Node) {
            guard case .array(var a) = content else {
                content = .array([child])
                return
            }
            content = .empty
            a.append(child)
            content = .array(a)
        }

        var count: Int {
            if case .array(let a) = content { return a.count }
            return 0
        }

        static func leaf(_ v: JSONValue) -> Node {
            let n = Node()
            n.content = .value(v)
            return n
        }
    }

    /// The JSON of the types written directly (and the ones whose own `encode` would only say the same).
    static func primitive(_ value: some Encodable) -> JSONValue? {
        switch value {
        case let v as String: return .string(v)
        case let v as Bool: return .bool(v)
        case let v as Int: return .int(Int64(v))
        case let v as Int64: return .int(v)
        case let v as Double: return .double(v)
        case let v as JSONValue: return v
        case let v as Timestamp: return .string(v.rfc3339)
        case let v as Millis: return .int(v.value)
        case let v as Float: return .double(Double(v))
        // Every other integer type, as its value (one beyond Int64 has no JSON number here and becomes its text).
        case let v as any BinaryInteger: return Int64(exactly: v).map { .int($0) } ?? .string(String(describing: v))
        default: return nil
        }
    }

    static func node(_ value: some Encodable, at path: [any CodingKey]) throws -> Node {
        if let p = primitive(value) { return .leaf(p) }
        let n = Node()
        try value.encode(to: ValueEncoder(node: n, codingPath: path, snakeCase: false))
        return n
    }

    struct ValueEncoder: Encoder {
        let node: Node
        let codingPath: [any CodingKey]
        let snakeCase: Bool
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
            if case .object = node.content {} else { node.content = .object([:]) }
            return KeyedEncodingContainer(Keyed<Key>(node: node, codingPath: codingPath, snakeCase: snakeCase))
        }

        func unkeyedContainer() -> any UnkeyedEncodingContainer {
            if case .array = node.content {} else { node.content = .array([]) }
            return Unkeyed(node: node, codingPath: codingPath)
        }

        func singleValueContainer() -> any SingleValueEncodingContainer { Single(node: node, codingPath: codingPath) }
    }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let node: Node
        let codingPath: [any CodingKey]
        let snakeCase: Bool

        func name(_ key: Key) -> String { snakeCase ? JSONValueEncoder.snakeCase(key.stringValue) : key.stringValue }

        mutating func encodeNil(forKey key: Key) throws { node.set(name(key), .leaf(.null)) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            node.set(name(key), try JSONValueEncoder.node(value, at: codingPath + [key]))
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
            -> KeyedEncodingContainer<NestedKey>
        {
            let child = Node()
            child.content = .object([:])
            node.set(name(key), child)
            return KeyedEncodingContainer(
                Keyed<NestedKey>(node: child, codingPath: codingPath + [key], snakeCase: false))
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            let child = Node()
            child.content = .array([])
            node.set(name(key), child)
            return Unkeyed(node: child, codingPath: codingPath + [key])
        }
        mutating func superEncoder() -> any Encoder {
            ValueEncoder(node: node, codingPath: codingPath, snakeCase: false)
        }
        mutating func superEncoder(forKey key: Key) -> any Encoder {
            let child = Node()
            node.set(name(key), child)
            return ValueEncoder(node: child, codingPath: codingPath + [key], snakeCase: false)
        }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let node: Node
        let codingPath: [any CodingKey]
        var count: Int { node.count }

        mutating func encodeNil() throws { node.append(.leaf(.null)) }
        mutating func encode<T: Encodable>(_ value: T) throws {
            node.append(try JSONValueEncoder.node(value, at: codingPath + [Index(count)]))
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
            -> KeyedEncodingContainer<NestedKey>
        {
            let child = Node()
            child.content = .object([:])
            let path = codingPath + [Index(count)]
            node.append(child)
            return KeyedEncodingContainer(Keyed<NestedKey>(node: child, codingPath: path, snakeCase: false))
        }
        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            let child = Node()
            child.content = .array([])
            let path = codingPath + [Index(count)]
            node.append(child)
            return Unkeyed(node: child, codingPath: path)
        }
        mutating func superEncoder() -> any Encoder {
            let child = Node()
            let path = codingPath + [Index(count)]
            node.append(child)
            return ValueEncoder(node: child, codingPath: path, snakeCase: false)
        }
    }

    struct Single: SingleValueEncodingContainer {
        let node: Node
        let codingPath: [any CodingKey]
        mutating func encodeNil() throws { node.content = .value(.null) }
        mutating func encode<T: Encodable>(_ value: T) throws {
            let n = try JSONValueEncoder.node(value, at: codingPath)
            node.content = n.content
        }
    }

    struct Index: CodingKey {
        let intValue: Int?
        var stringValue: String { String(intValue ?? 0) }
        init(_ i: Int) { intValue = i }
        init?(stringValue: String) { nil }
        init?(intValue: Int) { self.intValue = intValue }
    }
}
