/// A point in WGS 84, as GeoJSON writes it: longitude first.
public struct GeoPoint: Hashable, Sendable, Codable {
    /// Longitude, degrees east.
    public var lon: Double
    /// Latitude, degrees north.
    public var lat: Double

    /// Creates a point.
    public init(lon: Double, lat: Double) {
        self.lon = lon
        self.lat = lat
    }
}

/// A polygon: one outer ring and any number of holes, each a closed list of points.
public struct GeoPolygon: Hashable, Sendable {
    /// The outer boundary.
    public var outer: [GeoPoint]
    /// Holes cut out of it.
    public var holes: [[GeoPoint]]

    /// Creates a polygon.
    public init(outer: [GeoPoint], holes: [[GeoPoint]] = []) {
        self.outer = outer
        self.holes = holes
    }

    /// Whether `p` lies inside: inside the outer ring (its edge counts) and not strictly inside a hole (a hole's
    /// edge is the polygon's edge, and counts as inside too).
    public func contains(_ p: GeoPoint) -> Bool {
        guard GeoPolygon.ring(outer, contains: p) != .outside else { return false }
        for h in holes where GeoPolygon.ring(h, contains: p) == .inside { return false }
        return true
    }

    enum Where { case inside, edge, outside }

    /// Ray casting with an explicit test for the edges (a point on the boundary is on the edge, whatever the ray).
    static func ring(_ ring: [GeoPoint], contains p: GeoPoint) -> Where {
        guard ring.count >= 3 else { return .outside }
        var inside = false
        var j = ring.count - 1
        for i in 0..<ring.count {
            let a = ring[i]
            let b = ring[j]
            if onSegment(p, a, b) { return .edge }
            if (a.lat > p.lat) != (b.lat > p.lat) {
                let x = (b.lon - a.lon) * (p.lat - a.lat) / (b.lat - a.lat) + a.lon
                if p.lon < x { inside.toggle() }
            }
            j = i
        }
        return inside ? .inside : .outside
    }

    static func onSegment(_ p: GeoPoint, _ a: GeoPoint, _ b: GeoPoint) -> Bool {
        let cross = (b.lon - a.lon) * (p.lat - a.lat) - (b.lat - a.lat) * (p.lon - a.lon)
        let scale = max(abs(b.lon - a.lon), abs(b.lat - a.lat), 1e-12)
        guard abs(cross) <= 1e-9 * scale else { return false }
        return p.lon >= min(a.lon, b.lon) - 1e-12 && p.lon <= max(a.lon, b.lon) + 1e-12
            && p.lat >= min(a.lat, b.lat) - 1e-12 && p.lat <= max(a.lat, b.lat) + 1e-12
    }
}

/// Reads GeoJSON (RFC 7946): Polygon, MultiPolygon, Feature or FeatureCollection.
public enum GeoJSON {
    /// Every polygon in a GeoJSON document; throws `VigilError.invalid` naming what is wrong.
    public static func polygons(from bytes: [UInt8]) throws -> [GeoPolygon] {
        let value: JSONValue
        do {
            value = try VigilJSON.decode(JSONValue.self, from: bytes)
        } catch {
            throw VigilError.invalid("not valid JSON")
        }
        let out = try polygons(in: value, depth: 0)
        guard !out.isEmpty else { throw VigilError.invalid("no Polygon or MultiPolygon in the file") }
        return out
    }

    static func polygons(in v: JSONValue, depth: Int) throws -> [GeoPolygon] {
        guard depth < 8 else { throw VigilError.invalid("nested too deeply") }
        switch v["type"]?.stringValue {
        case "FeatureCollection":
            guard case .array(let features)? = v["features"] else {
                throw VigilError.invalid("a FeatureCollection needs a features list")
            }
            return try features.flatMap { try polygons(in: $0, depth: depth + 1) }
        case "Feature":
            guard let g = v["geometry"], g != .null else { return [] }
            return try polygons(in: g, depth: depth + 1)
        case "Polygon":
            guard let c = v["coordinates"] else { throw VigilError.invalid("a Polygon needs coordinates") }
            return [try polygon(c)]
        case "MultiPolygon":
            guard case .array(let list)? = v["coordinates"] else {
                throw VigilError.invalid("a MultiPolygon needs coordinates")
            }
            return try list.map(polygon)
        case "GeometryCollection":
            guard case .array(let list)? = v["geometries"] else { return [] }
            return try list.flatMap { try polygons(in: $0, depth: depth + 1) }
        case let t?:
            // Points and lines cover no area: they route nothing.
            if ["Point", "MultiPoint", "LineString", "MultiLineString"].contains(t) { return [] }
            throw VigilError.invalid("unknown GeoJSON type \"\(t)\"")
        case nil:
            throw VigilError.invalid("a GeoJSON object needs a type")
        }
    }

    static func polygon(_ c: JSONValue) throws -> GeoPolygon {
        guard case .array(let rings) = c, !rings.isEmpty else {
            throw VigilError.invalid("a Polygon's coordinates must be a list of rings")
        }
        let parsed = try rings.map(ring)
        return GeoPolygon(outer: parsed[0], holes: Array(parsed.dropFirst()))
    }

    static func ring(_ r: JSONValue) throws -> [GeoPoint] {
        guard case .array(let points) = r, points.count >= 4 else {
            throw VigilError.invalid("a ring needs at least four positions (the first repeated last)")
        }
        return try points.map { p in
            guard case .array(let xy) = p, xy.count >= 2, let lon = number(xy[0]), let lat = number(xy[1]),
                (-180...180).contains(lon), (-90...90).contains(lat)
            else { throw VigilError.invalid("a position must be [longitude, latitude] within range") }
            return GeoPoint(lon: lon, lat: lat)
        }
    }

    static func number(_ v: JSONValue) -> Double? {
        switch v {
        case .int(let i): return Double(i)
        case .double(let d): return d.isFinite ? d : nil
        default: return nil
        }
    }
}

/// One entry of `routes:`: how a location matches, and the dispatch target it goes to.
public struct RouteRule: Hashable, Sendable {
    /// How the entry matches.
    public enum Match: Hashable, Sendable {
        /// The coordinates fall in one of these polygons (read from `file`).
        case polygon(file: String, [GeoPolygon])
        /// Every attribute given matches (country, region, postal-code prefix).
        case attributes(country: String?, region: String?, postalCodePrefix: String?)
        /// Anything, when nothing else matched.
        case fallback
    }

    /// How it matches.
    public var match: Match
    /// The dispatch target.
    public var target: TargetName

    /// Creates an entry.
    public init(_ match: Match, target: TargetName) {
        self.match = match
        self.target = target
    }
}

/// The route a session resolved to: the target and what matched (`polygon FILE`, `postal_code_prefix P`,
/// `region R`, `country C`, `default`, `pinned`).
public struct SessionRoute: Hashable, Sendable, Codable {
    /// The dispatch target.
    public var target: TargetName
    /// What matched.
    public var matched: String

    /// Creates a route.
    public init(target: TargetName, matched: String) {
        self.target = target
        self.matched = matched
    }

    /// The kind of match, without its value (for events, which carry no location).
    public var matchKind: String { String(matched.split(separator: " ", maxSplits: 1).first ?? "") }
}

/// `routes:`: resolves a location to a dispatch target, most specific first.
public struct RouteTable: Hashable, Sendable {
    /// The entries, in file order.
    public var rules: [RouteRule]

    /// Creates a table.
    public init(_ rules: [RouteRule]) { self.rules = rules }

    /// Text as routes compare it: case-folded, without spaces.
    public static func normalized(_ s: String) -> String {
        s.lowercased().filter { !$0.isWhitespace }
    }

    /// The route for `location`: a polygon holding its coordinates, then the most specific attribute match (the
    /// longest postal-code prefix, then region, then country), then the default; ties to the first entry. Nil
    /// when nothing matches and there is no default.
    public func resolve(_ location: Location) -> SessionRoute? {
        if let lat = location.latitude, let lon = location.longitude, lat.isFinite, lon.isFinite {
            let p = GeoPoint(lon: lon, lat: lat)
            for r in rules {
                if case .polygon(let file, let polys) = r.match, polys.contains(where: { $0.contains(p) }) {
                    return SessionRoute(target: r.target, matched: "polygon \(file)")
                }
            }
        }
        let country = location.country.map(Self.normalized)
        let region = location.region.map(Self.normalized)
        let postal = location.postalCode.map(Self.normalized)
        var best: (rank: Int, route: SessionRoute)?
        for r in rules {
            guard case .attributes(let c, let rg, let pp) = r.match else { continue }
            if let c, Self.normalized(c) != country { continue }
            if let rg, Self.normalized(rg) != region { continue }
            if let pp {
                let prefix = Self.normalized(pp)
                guard let postal, postal.hasPrefix(prefix) else { continue }
            }
            // Rank: a postal-code prefix beats a region, which beats a country; a longer prefix beats a shorter.
            let rank: Int
            let matched: String
            if let pp {
                rank = 1000 + Self.normalized(pp).count
                matched = "postal_code_prefix \(pp)"
            } else if let rg {
                rank = 100
                matched = "region \(rg)"
            } else if let c {
                rank = 10
                matched = "country \(c)"
            } else {
                continue
            }
            if rank > (best?.rank ?? -1) { best = (rank, SessionRoute(target: r.target, matched: matched)) }
        }
        if let best { return best.route }
        for r in rules {
            if case .fallback = r.match { return SessionRoute(target: r.target, matched: "default") }
        }
        return nil
    }
}
