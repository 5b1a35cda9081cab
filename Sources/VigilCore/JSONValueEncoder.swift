/// Encodes any `Encodable` straight into a `JSONValue`, without going through bytes: typed event payloads become
/// the log's JSON this way on every command. With `snakeCaseKeys`, the value's own property names become snake case
/// (`webhookIDs` is `webhook_ids`, `lateMs` is `late_ms`), as `JSONValueDecoder` reads them back; keys of nested
/// values (a dictionary's keys, a type's own `CodingKeys`) are never changed.
/// Optionals encoded with `encodeIfPresent` (what `Codable` synthesizes) are left out when nil; an explicit
/// `encode(nil)` writes `null`, as `JSONEncoder` does.
public enum JSONValueEncoder {
    /// The value's JSON.
    public static func encode(_ value: some Encodable, snakeCaseKeys: Bool = false) throws -> JSONValue {
        let n = Node()
        try value.encode(to: ValueEncoder(node: n, snakeCase: snakeCaseKeys))
        return n.json
    }

    /// `lateMs` → `late_ms`, `webhookIDs` → `webhook_ids`, `graceS` → `grace_s`: a break before each capital
    /// that follows a small letter or a digit, and everything in small letters.
    public static func snakeCase(_ key: String) -> String {
        // Most keys have no capital: those are returned as they are, without walking their characters.
        guard key.utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) else { return key }
        var out: [UInt8] = []
        out.reserveCapacity(key.utf8.count + 4)
        var previousIsLowerOrDigit = false
        for b in key.utf8 {
            if b >= 0x41 && b <= 0x5A {
                if previousIsLowerOrDigit { out.append(UInt8(ascii: "_")) }
                out.append(b + 0x20)
                previousIsLowerOrDigit = false
            } else {
                out.append(b)
                previousIsLowerOrDigit = (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39)
            }
        }
        return String(decoding: out, as: UTF8.self)
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

    /// Every integer type, as its value (one beyond Int64 has no JSON number here and becomes its text).
    static func int(_ v: some BinaryInteger) -> JSONValue {
        Int64(exactly: v).map { .int($0) } ?? .string(String(describing: v))
    }

    /// A value's node. The types JSON has are handled by the containers' concrete `encode` methods; here, the few
    /// whose own `encode` would only say the same are written directly (compared by type, not cast).
    static func node<T: Encodable>(_ value: T) throws -> Node {
        if T.self == Timestamp.self, let t = value as? Timestamp { return .leaf(.string(t.rfc3339)) }
        if T.self == Millis.self, let m = value as? Millis { return .leaf(.int(m.value)) }
        if T.self == JSONValue.self, let v = value as? JSONValue { return .leaf(v) }
        let n = Node()
        try value.encode(to: ValueEncoder(node: n, snakeCase: false))
        return n
    }

    // The coding path is not kept: this encoder raises no errors of its own, and the types it encodes do not ask.

    struct ValueEncoder: Encoder {
        let node: Node
        let snakeCase: Bool
        var codingPath: [any CodingKey] { [] }
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
            if case .object = node.content {} else { node.content = .object([:]) }
            return KeyedEncodingContainer(Keyed<Key>(node: node, snakeCase: snakeCase))
        }

        func unkeyedContainer() -> any UnkeyedEncodingContainer {
            if case .array = node.content {} else { node.content = .array([]) }
            return Unkeyed(node: node)
        }

        func singleValueContainer() -> any SingleValueEncodingContainer { Single(node: node) }
    }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let node: Node
        let snakeCase: Bool
        var codingPath: [any CodingKey] { [] }

        func name(_ key: Key) -> String { snakeCase ? JSONValueEncoder.snakeCase(key.stringValue) : key.stringValue }
        func put(_ v: JSONValue, _ key: Key) { node.set(name(key), .leaf(v)) }

        mutating func encodeNil(forKey key: Key) throws { put(.null, key) }
        mutating func encode(_ value: Bool, forKey key: Key) throws { put(.bool(value), key) }
        mutating func encode(_ value: String, forKey key: Key) throws { put(.string(value), key) }
        mutating func encode(_ value: Double, forKey key: Key) throws { put(.double(value), key) }
        mutating func encode(_ value: Float, forKey key: Key) throws { put(.double(Double(value)), key) }
        mutating func encode(_ value: Int, forKey key: Key) throws { put(.int(Int64(value)), key) }
        mutating func encode(_ value: Int8, forKey key: Key) throws { put(.int(Int64(value)), key) }
        mutating func encode(_ value: Int16, forKey key: Key) throws { put(.int(Int64(value)), key) }
        mutating func encode(_ value: Int32, forKey key: Key) throws { put(.int(Int64(value)), key) }
        mutating func encode(_ value: Int64, forKey key: Key) throws { put(.int(value), key) }
        mutating func encode(_ value: UInt, forKey key: Key) throws { put(int(value), key) }
        mutating func encode(_ value: UInt8, forKey key: Key) throws { put(.int(Int64(value)), key) }
        mutating func encode(_ value: UInt16, forKey key: Key) throws { put(.int(Int64(value)), key) }
        mutating func encode(_ value: UInt32, forKey key: Key) throws { put(.int(Int64(value)), key) }
        mutating func encode(_ value: UInt64, forKey key: Key) throws { put(int(value), key) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            node.set(name(key), try JSONValueEncoder.node(value))
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
            -> KeyedEncodingContainer<NestedKey>
        {
            let child = Node()
            child.content = .object([:])
            node.set(name(key), child)
            return KeyedEncodingContainer(Keyed<NestedKey>(node: child, snakeCase: false))
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            let child = Node()
            child.content = .array([])
            node.set(name(key), child)
            return Unkeyed(node: child)
        }
        mutating func superEncoder() -> any Encoder { ValueEncoder(node: node, snakeCase: false) }
        mutating func superEncoder(forKey key: Key) -> any Encoder {
            let child = Node()
            node.set(name(key), child)
            return ValueEncoder(node: child, snakeCase: false)
        }
    }

    struct Unkeyed: UnkeyedEncodingContainer, ValueSink {
        let node: Node
        var codingPath: [any CodingKey] { [] }
        var count: Int { node.count }

        func put(_ v: JSONValue) { node.append(.leaf(v)) }

        mutating func encode<T: Encodable>(_ value: T) throws { node.append(try JSONValueEncoder.node(value)) }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
            -> KeyedEncodingContainer<NestedKey>
        {
            let child = Node()
            child.content = .object([:])
            node.append(child)
            return KeyedEncodingContainer(Keyed<NestedKey>(node: child, snakeCase: false))
        }
        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            let child = Node()
            child.content = .array([])
            node.append(child)
            return Unkeyed(node: child)
        }
        mutating func superEncoder() -> any Encoder {
            let child = Node()
            node.append(child)
            return ValueEncoder(node: child, snakeCase: false)
        }
    }

    struct Single: SingleValueEncodingContainer, ValueSink {
        let node: Node
        var codingPath: [any CodingKey] { [] }

        func put(_ v: JSONValue) { node.content = .value(v) }

        mutating func encode<T: Encodable>(_ value: T) throws {
            node.content = try JSONValueEncoder.node(value).content
        }
    }

    /// A container that writes one value at a time (the unkeyed and the single-value ones): the types JSON has,
    /// written once for both.
    protocol ValueSink {
        func put(_ v: JSONValue)
    }

    struct Index: CodingKey {
        let intValue: Int?
        var stringValue: String { String(intValue ?? 0) }
        init(_ i: Int) { intValue = i }
        init?(stringValue: String) { nil }
        init?(intValue: Int) { self.intValue = intValue }
    }
}

extension JSONValueEncoder.ValueSink {
    mutating func encodeNil() throws { put(.null) }
    mutating func encode(_ value: Bool) throws { put(.bool(value)) }
    mutating func encode(_ value: String) throws { put(.string(value)) }
    mutating func encode(_ value: Double) throws { put(.double(value)) }
    mutating func encode(_ value: Float) throws { put(.double(Double(value))) }
    mutating func encode(_ value: Int) throws { put(.int(Int64(value))) }
    mutating func encode(_ value: Int8) throws { put(.int(Int64(value))) }
    mutating func encode(_ value: Int16) throws { put(.int(Int64(value))) }
    mutating func encode(_ value: Int32) throws { put(.int(Int64(value))) }
    mutating func encode(_ value: Int64) throws { put(.int(value)) }
    mutating func encode(_ value: UInt) throws { put(JSONValueEncoder.int(value)) }
    mutating func encode(_ value: UInt8) throws { put(.int(Int64(value))) }
    mutating func encode(_ value: UInt16) throws { put(.int(Int64(value))) }
    mutating func encode(_ value: UInt32) throws { put(.int(Int64(value))) }
    mutating func encode(_ value: UInt64) throws { put(JSONValueEncoder.int(value)) }
}
