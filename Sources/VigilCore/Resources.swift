import Foundation

/// A service a hotline offers after the danger has passed (docs/contract.md, "Resources and referrals").
public struct Resource: Hashable, Sendable, Codable {
    /// What kind of service.
    public enum Kind: String, Hashable, Sendable, Codable, CaseIterable {
        case treatment, naloxone
        case harmReduction = "harm_reduction"
        case supportGroup = "support_group"
        case crisisLine = "crisis_line"
        case testing
    }

    /// A short stable id (`[a-z0-9_-]`), which referrals name.
    public var id: String
    /// Its name, as the person reads it.
    public var name: String
    /// What it offers.
    public var kind: Kind
    /// Its phone number, as published.
    public var phone: String?
    /// Its web address.
    public var url: String?
    /// Its street address.
    public var address: String?
    /// WGS 84 latitude.
    public var latitude: Double?
    /// WGS 84 longitude.
    public var longitude: Double?
    /// State, province or region it serves.
    public var region: String?
    /// ISO country code.
    public var country: String?
    /// Languages spoken there.
    public var languages: [Language]
    /// Opening hours, as text.
    public var hours: String?
    /// Sends by mail (naloxone by mail): offered to everyone, wherever they are.
    public var byMail: Bool

    /// Creates a resource.
    public init(
        id: String, name: String, kind: Kind, phone: String? = nil, url: String? = nil, address: String? = nil,
        latitude: Double? = nil, longitude: Double? = nil, region: String? = nil, country: String? = nil,
        languages: [Language] = [.en], hours: String? = nil, byMail: Bool = false
    ) {
        self.id = id
        self.name = name
        self.kind = kind
        self.phone = phone
        self.url = url
        self.address = address
        self.latitude = latitude
        self.longitude = longitude
        self.region = region
        self.country = country
        self.languages = languages
        self.hours = hours
        self.byMail = byMail
    }
}

/// Chooses the resources offered to one person.
public enum ResourcePicker {
    /// How many local resources the person's page shows.
    public static let pageLimit = 5
    /// How many a text answer names.
    public static let textLimit = 3

    /// Up to `limit` resources near `location`, then every `by_mail` one. Near means: by distance from the
    /// coordinates when both sides have them, else the same region, else the same country (resources matching none
    /// are left out). Among those chosen, the ones that speak `language` come first, each group nearest first.
    public static func pick(
        _ all: [Resource], near location: Location, language: Language, limit: Int = pageLimit
    ) -> [Resource] {
        let region = location.region.map(fold)
        let country = location.country.map(fold)
        var ranked: [(Resource, tier: Int, distance: Double)] = []
        for r in all where !r.byMail {
            if let la = location.latitude, let lo = location.longitude, let rla = r.latitude, let rlo = r.longitude {
                ranked.append((r, 0, distanceKm(la, lo, rla, rlo)))
            } else if let region, r.region.map(fold) == region,
                country == nil || r.country == nil || r.country.map(fold) == country
            {
                ranked.append((r, 1, 0))
            } else if let country, r.country.map(fold) == country, r.region == nil || location.region == nil {
                ranked.append((r, 2, 0))
            } else if country == nil, region == nil, r.region == nil {
                // Nothing known of where the person is: only the resources that serve everyone.
                ranked.append((r, 3, 0))
            }
        }
        ranked.sort { a, b in
            (a.tier, a.distance, a.0.name, a.0.id) < (b.tier, b.distance, b.0.name, b.0.id)
        }
        let chosen = ranked.prefix(max(0, limit)).enumerated().map { ($0.offset, $0.element.0) }
        let mail = all.enumerated().filter { $0.element.byMail }.map { ($0.offset, $0.element) }
        return languageFirst(chosen, language) + languageFirst(mail, language)
    }

    /// The first `textLimit` of `pick` that have a phone number, for a text answer.
    public static func forText(_ all: [Resource], near location: Location, language: Language) -> [Resource] {
        Array(pick(all, near: location, language: language).filter { $0.phone != nil }.prefix(textLimit))
    }

    static func languageFirst(_ list: [(Int, Resource)], _ language: Language) -> [Resource] {
        list.sorted { a, b in
            let la = a.1.languages.contains(language) ? 0 : 1
            let lb = b.1.languages.contains(language) ? 0 : 1
            return (la, a.0) < (lb, b.0)
        }.map(\.1)
    }

    static func fold(_ s: String) -> String {
        s.trimmingCharacters(in: .whitespaces).lowercased()
    }

    /// Great-circle distance in kilometres (haversine).
    public static func distanceKm(_ lat1: Double, _ lon1: Double, _ lat2: Double, _ lon2: Double) -> Double {
        let r = 6371.0
        let p1 = lat1 * .pi / 180
        let p2 = lat2 * .pi / 180
        let dp = (lat2 - lat1) * .pi / 180
        let dl = (lon2 - lon1) * .pi / 180
        let a = sin(dp / 2) * sin(dp / 2) + cos(p1) * cos(p2) * sin(dl / 2) * sin(dl / 2)
        return 2 * r * atan2(a.squareRoot(), max(0, 1 - a).squareRoot())
    }
}

/// A resource offered to the person at follow-up, as a closed follow-up records it (no personal data).
public struct Referral: Hashable, Sendable, Codable {
    /// The resource's id.
    public var id: String
    /// Its kind, which the summary report counts.
    public var kind: Resource.Kind

    /// Creates a referral.
    public init(id: String, kind: Resource.Kind) {
        self.id = id
        self.kind = kind
    }
}
