// TOML sections decoded straight into the Codable config structs. A struct's stored properties are
// its schema: their names in snake_case are the keys (unless renamed), their types the expected
// TOML types and their current values the values of missing keys. Decoding is strict: a key
// that names no property, or a value of the wrong type, is an error naming the file and the key.
import Foundation
import NeuralNet
import TOMLKit

/// A closed set of values in a config file or on the command line: the raw values are the spellings
/// (in TOML, JSON and flags alike). Conformers get a decoding error that lists the valid spellings.
public protocol ConfigChoice: CaseIterable, RawRepresentable, Codable, Sendable, ConfigSpelling where RawValue == String {}

/// The spellings of a `ConfigChoice`, without its associated types (for reading a struct's schema).
public protocol ConfigSpelling {
    static var spellings: [String] { get }
    var spelling: String { get }
}

extension ConfigChoice {
    public static var spellings: [String] { allCases.map(\.rawValue) }
    public var spelling: String { rawValue }
    /// "'a' or 'b'", or "one of 'a', 'b', 'c'".
    public static var spellingList: String { TOMLSection.list(spellings) }
}

/// One TOML table being read into config structs; remembers the keys read so `finish` rejects the rest.
struct TOMLSection {
    let table: TOMLTable
    /// Dotted name of the table ("" for the file's top level), for messages.
    let name: String
    let path: String
    private(set) var consumed: Set<String> = []

    init(table: TOMLTable, name: String, path: String) {
        self.table = table
        self.name = name
        self.path = path
    }

    /// Reads and parses a TOML file; errors name the file.
    static func file(_ path: String, what: String) throws -> TOMLSection {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ConfigError("\(path): cannot read the \(what) file (missing or not UTF-8)")
        }
        do { return TOMLSection(table: try TOMLTable(string: text), name: "", path: path) } catch let e as TOMLParseError {
            throw ConfigError("\(path): \(e.description) (\(e.source))")
        }
    }

    func qualified(_ key: String) -> String { name.isEmpty ? key : "\(name).\(key)" }

    /// The sub-table `key`, or nil when absent.
    mutating func section(_ key: String) throws -> TOMLSection? {
        consumed.insert(key)
        guard let value = table[key] else { return nil }
        guard let t = value.table else { throw ConfigError("\(path): '\(qualified(key))' must be a section") }
        return TOMLSection(table: t, name: qualified(key), path: path)
    }

    /// The array of tables `key` (`[[key]]` entries), or nil when absent or not an array.
    mutating func tables(_ key: String) throws -> [TOMLSection]? {
        consumed.insert(key)
        guard let array = table[key]?.array else { return nil }
        return try array.enumerated().map { i, value in
            guard let t = value.table else { throw ConfigError("\(path): \(qualified(key))[\(i)] must be a table") }
            return TOMLSection(table: t, name: "\(qualified(key))[\(i)]", path: path)
        }
    }

    /// One key's value (nil when absent).
    mutating func value<T: Decodable>(_ key: String, as type: T.Type = T.self) throws -> T? {
        consumed.insert(key)
        guard let value = table[key] else { return nil }
        guard let kind = Kind(type) else { preconditionFailure("no TOML kind for \(T.self)") }
        return try Self.decode(T.self, from: Scalar(value, kind, name: qualified(key), path: path))
    }

    /// `defaults` with the keys of this table applied. `keys` maps file keys to property names; nil
    /// means every stored property, named in snake_case, except those in `renamed` (property -> key).
    mutating func decode<T: Codable>(over defaults: T, keys: [String: String]? = nil, renamed: [String: String] = [:]) throws -> T {
        var kinds: [String: Kind] = [:]
        var values: [String: Scalar] = [:]
        var fileKeys: [String: String] = [:]
        for child in Mirror(reflecting: defaults).children {
            guard let label = child.label else { continue }
            guard let kind = Kind(type(of: child.value)) else {
                // Not a TOML value (e.g. a model's layers): kept as it is; the caller reads its key.
                values[label] = .kept(child.value as! any Encodable)
                continue
            }
            kinds[label] = kind
            if let value = Self.unwrapped(child.value) { values[label] = Scalar(value, kind) }
            if keys == nil { fileKeys[renamed[label] ?? Self.snakeCase(label)] = label }
        }
        let labels = keys ?? fileKeys
        for label in labels.values { precondition(kinds[label] != nil, "\(T.self) has no config property '\(label)'") }
        for key in table.keys.sorted() {
            guard let label = labels[key], let kind = kinds[label], let value = table[key] else { continue }
            consumed.insert(key)
            values[label] = try Scalar(value, kind, name: qualified(key), path: path)
        }
        return try Self.decode(T.self, from: values)
    }

    /// Rejects the keys nobody read.
    func finish() throws {
        for key in table.keys.sorted() where !consumed.contains(key) {
            throw ConfigError("\(path): unknown key '\(qualified(key))'")
        }
    }

    // MARK: - Values

    /// What a property accepts.
    enum Kind {
        case int, unsigned, double, float, bool, string
        /// A `ConfigChoice` enum, by its spellings.
        case choice([String])
        indirect case array(Kind)

        init?(_ type: Any.Type) {
            if let optional = type as? AnyOptional.Type {
                self.init(optional.wrappedType)
                return
            }
            if let array = type as? AnyArray.Type {
                guard let element = Kind(array.elementType) else { return nil }
                self = .array(element)
                return
            }
            if let choice = type as? ConfigSpelling.Type {
                self = .choice(choice.spellings)
                return
            }
            switch ObjectIdentifier(type) {
            case ObjectIdentifier(Int.self): self = .int
            case ObjectIdentifier(UInt64.self): self = .unsigned
            case ObjectIdentifier(Double.self): self = .double
            case ObjectIdentifier(Float.self): self = .float
            case ObjectIdentifier(Bool.self): self = .bool
            case ObjectIdentifier(String.self): self = .string
            default: return nil
            }
        }
    }

    /// A checked value, encoded in JSON for JSONDecoder to build the struct.
    enum Scalar: Encodable {
        case int(Int)
        case unsigned(UInt64)
        case double(Double)
        case float(Float)
        case bool(Bool)
        case string(String)
        indirect case array([Scalar])
        /// A property that is not read from TOML, re-encoded as it is.
        case kept(any Encodable)

        /// A property's current value.
        init(_ value: Any, _ kind: Kind) {
            switch kind {
            case .int: self = .int(value as! Int)
            case .unsigned: self = .unsigned(value as! UInt64)
            case .double: self = .double(value as! Double)
            case .float: self = .float(value as! Float)
            case .bool: self = .bool(value as! Bool)
            case .string: self = .string(value as! String)
            case .choice: self = .string((value as! ConfigSpelling).spelling)
            case .array(let element): self = .array((value as! [Any]).map { Scalar($0, element) })
            }
        }

        /// A file's value, checked against the kind; errors name the key and the value found.
        init(_ value: TOMLValueConvertible, _ kind: Kind, name: String, path: String) throws {
            let wrong = ConfigError("\(path): \(name) must be \(kind.expected), found \(TOMLSection.describe(value))")
            switch kind {
            case .int:
                guard let i = value.int else { throw wrong }
                self = .int(i)
            case .unsigned:
                guard let i = value.int else { throw wrong }
                guard i >= 0 else { throw ConfigError("\(path): \(name) must be >= 0, found \(i)") }
                self = .unsigned(UInt64(i))
            case .double, .float:
                guard let d = value.double ?? value.int.map(Double.init) else { throw wrong }
                self = kind.isFloat ? .float(Float(d)) : .double(d)
            case .bool:
                guard let b = value.bool else { throw wrong }
                self = .bool(b)
            case .string:
                guard let s = value.string else { throw wrong }
                self = .string(s)
            case .choice(let spellings):
                guard let s = value.string, spellings.contains(s) else { throw wrong }
                self = .string(s)
            case .array(let element):
                guard let array = value.array else { throw wrong }
                do { self = .array(try array.map { try Scalar($0, element, name: name, path: path) }) } catch { throw wrong }
            }
        }

        func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .int(let v): try c.encode(v)
            case .unsigned(let v): try c.encode(v)
            case .double(let v): try c.encode(v)
            case .float(let v): try c.encode(v)
            case .bool(let v): try c.encode(v)
            case .string(let v): try c.encode(v)
            case .array(let v): try c.encode(v)
            case .kept(let v): try c.encode(v)
            }
        }
    }

    static func decode<T: Decodable, V: Encodable>(_ type: T.Type, from value: V) throws -> T {
        // TOML allows inf and nan; validate() rejects them where they do not belong.
        let encoder = JSONEncoder()
        let decoder = JSONDecoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try decoder.decode(T.self, from: encoder.encode(value))
    }

    static func unwrapped(_ value: Any) -> Any? {
        let mirror = Mirror(reflecting: value)
        guard mirror.displayStyle == .optional else { return value }
        return mirror.children.first.map { $0.value }
    }

    static func snakeCase(_ name: String) -> String {
        name.reduce(into: "") { out, c in out += c.isUppercase ? "_" + c.lowercased() : String(c) }
    }

    static func list(_ spellings: [String]) -> String {
        let quoted = spellings.map { "'\($0)'" }
        return quoted.count == 2 ? "\(quoted[0]) or \(quoted[1])" : "one of \(quoted.joined(separator: ", "))"
    }

    static func describe(_ value: TOMLValueConvertible) -> String {
        if let s = value.string { return "'\(s)'" }
        if let i = value.int { return "\(i)" }
        if let d = value.double { return "\(d)" }
        if let b = value.bool { return "\(b)" }
        if value.table != nil { return "a table" }
        if value.array != nil { return "an array" }
        return "a \(value.type)"
    }
}

extension OptimizerConfig.Kind: ConfigChoice {}
extension LRSchedule.Kind: ConfigChoice {}

extension TOMLSection.Kind {
    var isFloat: Bool { if case .float = self { true } else { false } }

    /// What a value of this kind is, for messages.
    var expected: String {
        switch self {
        case .int, .unsigned: "an integer"
        case .double, .float: "a number"
        case .bool: "true or false"
        case .string: "a string"
        case .choice(let spellings): TOMLSection.list(spellings)
        case .array(let element): "an array of " + element.plural
        }
    }

    var plural: String {
        switch self {
        case .int, .unsigned: "integers"
        case .double, .float: "numbers"
        case .bool: "true/false"
        case .string, .choice: "strings"
        case .array: "arrays"
        }
    }
}

protocol AnyOptional { static var wrappedType: Any.Type { get } }
extension Optional: AnyOptional { static var wrappedType: Any.Type { Wrapped.self } }
protocol AnyArray { static var elementType: Any.Type { get } }
extension Array: AnyArray { static var elementType: Any.Type { Element.self } }
