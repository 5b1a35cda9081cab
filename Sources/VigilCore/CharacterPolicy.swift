/// Which characters personal text may hold: what every receiver (JSON, CAP's XML, a console) can show faithfully.
public enum CharacterPolicy {
    /// Whether XML 1.0 allows `u` in text (`Char` production).
    public static func isAllowedInXML(_ u: Unicode.Scalar) -> Bool {
        switch u.value {
        case 0x9, 0xA, 0xD: return true
        case 0x20...0xD7FF, 0xE000...0xFFFD, 0x10000...0x10FFFF: return true
        default: return false
        }
    }

    /// Bidirectional embeddings, overrides and isolates, which reorder the text around them for a reader.
    public static func isBidiControl(_ u: Unicode.Scalar) -> Bool {
        switch u.value {
        case 0x202A...0x202E, 0x2066...0x2069, 0x200E, 0x200F, 0x061C: return true
        default: return false
        }
    }

    /// DEL and the C1 controls (U+0080–U+009F).
    public static func isDeleteOrC1(_ u: Unicode.Scalar) -> Bool { u.value == 0x7F || (0x80...0x9F).contains(u.value) }

    /// Why `text` is refused, or nil when it may be stored: controls other than tab and newlines, DEL, C1 controls,
    /// noncharacters U+FFFE/U+FFFF and bidi controls.
    public static func problem(in text: String) -> String? {
        for u in text.unicodeScalars {
            if u.value < 0x20 && u != "\n" && u != "\t" && u != "\r" { return "contains control characters" }
            if isDeleteOrC1(u) { return "contains control characters" }
            if !isAllowedInXML(u) { return "contains characters that are not text" }
            if isBidiControl(u) { return "contains bidirectional control characters" }
        }
        return nil
    }
}
