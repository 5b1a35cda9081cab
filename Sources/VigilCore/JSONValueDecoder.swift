/// Decodes any `Decodable` straight from a `JSONValue`: the reverse of `JSONValueEncoder`, with the same rule for
/// the value's own keys (`snakeCaseKeys`: the property `lateMs` is read from `late_ms`). Numbers convert only when
/// they fit; anything else is a `DecodingError`, never a trap.
public enum JSONValueDecoder {
    /// Decodes `type` from `value`.
    public static func decode<T: Decodable>(_ type: T.Type, from value: JSONValue, snakeCaseKeys: Bool = false) throws
        -> T
    {
        try T(from: ValueDecoder(value: value, codingPath: [], snakeCase: snakeCaseKeys))
    }

    static func mismatch(_ expected: Any.Type, _ path: [any CodingKey], _ value: JSONValue) -> DecodingError {
        .typeMismatch(
            expected, .init(codingPath: path, debugDescription: "expected \(expected), found \(value.kind)"))
    }

    static func primitive<T: Decodable>(_ type: T.Type, _ v: JSONValue, _ path: [any CodingKey]) throws -> T? {
        func fail() -> DecodingError { mismatch(type, path, v) }
        switch type {
        case is String.Type:
            guard case .string(let s) = v else { throw fail() }
            return s as? T
        case is Bool.Type:
            guard case .bool(let b) = v else { throw fail() }
            return b as? T
        case is Int64.Type:
            guard case .int(let i) = v else { throw fail() }
            return i as? T
        case is Int.Type:
            guard case .int(let i) = v, let n = Int(exactly: i) else { throw fail() }
            return n as? T
        case is Double.Type:
            switch v {
            case .double(let d): return d as? T
            case .int(let i): return Double(i) as? T
            default: throw fail()
            }
        case is JSONValue.Type:
            return v as? T
        case let t as any FixedWidthInteger.Type:
            // Every other integer type: the value must fit.
            guard case .int(let i) = v, let n = t.init(exactly: i) else { throw fail() }
            return n as? T
        case is Float.Type:
            switch v {
            case .double(let d): return Float(d) as? T
            case .int(let i): return Float(i) as? T
            default: throw fail()
            }
        default:
            return nil
        }
    }

    static func value<T: Decodable>(_ type: T.Type, _ v: JSONValue, _ path: [any CodingKey]) throws -> T {
        if let p = try primitive(type, v, path) { return p }
        return try T(from: ValueDecoder(value: v, codingPath: path, snakeCase: false))
    }

    struct ValueDecoder: Decoder {
        let value: JSONValue
        let codingPath: [any CodingKey]
        let snakeCase: Bool
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
            guard case .object(let o) = value else { throw mismatch([String: JSONValue].self, codingPath, value) }
            return KeyedDecodingContainer(Keyed<Key>(object: o, codingPath: codingPath, snakeCase: snakeCase))
        }

        func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
            guard case .array(let a) = value else { throw mismatch([JSONValue].self, codingPath, value) }
            return Unkeyed(array: a, codingPath: codingPath)
        }

        func singleValueContainer() throws -> any SingleValueDecodingContainer {
            Single(value: value, codingPath: codingPath)
        }
    }

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let object: [String: JSONValue]
        let codingPath: [any CodingKey]
        let snakeCase: Bool

        func name(_ key: Key) -> String { snakeCase ? JSONValueEncoder.snakeCase(key.stringValue) : key.stringValue }
        var allKeys: [Key] {
            // Only keys the type can name; with snake case, each of the type's keys must be tried by its JSON name.
            object.keys.compactMap { Key(stringValue: $0) }
        }
        func contains(_ key: Key) -> Bool { object[name(key)] != nil }

        func member(_ key: Key) throws -> JSONValue {
            guard let v = object[name(key)] else {
                throw DecodingError.keyNotFound(
                    key, .init(codingPath: codingPath, debugDescription: "no member \(name(key))"))
            }
            return v
        }

        func decodeNil(forKey key: Key) throws -> Bool { (object[name(key)] ?? .null) == .null }
        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            try JSONValueDecoder.value(type, try member(key), codingPath + [key])
        }
        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
            -> KeyedDecodingContainer<NestedKey>
        {
            try ValueDecoder(value: try member(key), codingPath: codingPath + [key], snakeCase: false)
                .container(keyedBy: type)
        }
        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
            try ValueDecoder(value: try member(key), codingPath: codingPath + [key], snakeCase: false)
                .unkeyedContainer()
        }
        func superDecoder() throws -> any Decoder {
            ValueDecoder(value: .object(object), codingPath: codingPath, snakeCase: false)
        }
        func superDecoder(forKey key: Key) throws -> any Decoder {
            ValueDecoder(value: object[name(key)] ?? .null, codingPath: codingPath + [key], snakeCase: false)
        }
    }

    struct Unkeyed: UnkeyedDecodingContainer {
        let array: [JSONValue]
        let codingPath: [any CodingKey]
        var currentIndex = 0
        var count: Int? { array.count }
        var isAtEnd: Bool { currentIndex >= array.count }

        init(array: [JSONValue], codingPath: [any CodingKey]) {
            self.array = array
            self.codingPath = codingPath
        }

        mutating func next() throws -> JSONValue {
            guard currentIndex < array.count else {
                throw DecodingError.valueNotFound(
                    JSONValue.self, .init(codingPath: codingPath, debugDescription: "the array has no more values"))
            }
            defer { currentIndex += 1 }
            return array[currentIndex]
        }

        mutating func decodeNil() throws -> Bool {
            guard currentIndex < array.count, array[currentIndex] == .null else { return false }
            currentIndex += 1
            return true
        }
        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
            let path = codingPath + [JSONValueEncoder.Index(currentIndex)]
            return try JSONValueDecoder.value(type, try next(), path)
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
            -> KeyedDecodingContainer<NestedKey>
        {
            let path = codingPath + [JSONValueEncoder.Index(currentIndex)]
            return try ValueDecoder(value: try next(), codingPath: path, snakeCase: false).container(keyedBy: type)
        }
        mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
            let path = codingPath + [JSONValueEncoder.Index(currentIndex)]
            return try ValueDecoder(value: try next(), codingPath: path, snakeCase: false).unkeyedContainer()
        }
        mutating func superDecoder() throws -> any Decoder {
            let path = codingPath + [JSONValueEncoder.Index(currentIndex)]
            return ValueDecoder(value: try next(), codingPath: path, snakeCase: false)
        }
    }

    struct Single: SingleValueDecodingContainer {
        let value: JSONValue
        let codingPath: [any CodingKey]
        func decodeNil() -> Bool { value == .null }
        func decode<T: Decodable>(_ type: T.Type) throws -> T { try JSONValueDecoder.value(type, value, codingPath) }
    }
}

extension JSONValue {
    /// The kind of value, for error messages.
    var kind: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int, .double: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}
