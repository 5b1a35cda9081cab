import Testing
import VigilCore

@Suite("resources near the person")
struct ResourcePickerTests {
    // Springfield, IL is at 39.78, -89.65; Chicago is about 280 km north-east, Decatur about 60 km east.
    static let all: [Resource] = [
        Resource(
            id: "chicago", name: "Chicago Clinic", kind: .treatment, phone: "1", latitude: 41.88, longitude: -87.63,
            region: "IL", country: "US"),
        Resource(
            id: "decatur", name: "Decatur Center", kind: .harmReduction, phone: "2", latitude: 39.84,
            longitude: -88.95, region: "IL", country: "US"),
        Resource(
            id: "springfield", name: "Springfield Outreach", kind: .testing, phone: "3", latitude: 39.80,
            longitude: -89.65, region: "IL", country: "US", languages: [.en, .es]),
        Resource(id: "il-line", name: "Illinois Line", kind: .crisisLine, phone: "4", region: "IL", country: "US"),
        Resource(id: "national", name: "National Line", kind: .crisisLine, phone: "5", country: "US"),
        Resource(id: "ohio", name: "Ohio Line", kind: .crisisLine, phone: "6", region: "OH", country: "US"),
        Resource(
            id: "mail", name: "Naloxone by Mail", kind: .naloxone, url: "https://mail.example", country: "US",
            byMail: true),
    ]

    @Test("with coordinates: nearest first by distance, then the region's, then the country's; by mail always")
    func byDistance() {
        let here = Location(address: "x", region: "IL", country: "US", latitude: 39.78, longitude: -89.65)
        let ids = ResourcePicker.pick(Self.all, near: here, language: .en).map(\.id)
        #expect(ids == ["springfield", "decatur", "chicago", "il-line", "national", "mail"])
    }

    @Test("without coordinates: the region's, then the country's; another region's never")
    func byRegion() {
        let here = Location(address: "x", region: "il", country: "us")
        let ids = ResourcePicker.pick(Self.all, near: here, language: .en).map(\.id)
        #expect(ids == ["chicago", "decatur", "il-line", "springfield", "national", "mail"])
        #expect(!ids.contains("ohio"))
    }

    @Test("the session's language first, then the others, each nearest first")
    func languageFirst() {
        let here = Location(address: "x", region: "IL", country: "US", latitude: 41.88, longitude: -87.63)
        let ids = ResourcePicker.pick(Self.all, near: here, language: .es).map(\.id)
        #expect(ids.first == "springfield")
        #expect(Array(ids.dropFirst().prefix(2)) == ["chicago", "decatur"])
    }

    @Test("at most five near ones, and the by-mail entry even when nothing else is near")
    func limits() {
        let many = (0..<9).map {
            Resource(
                id: "r\($0)", name: "R\($0)", kind: .treatment, phone: "1", latitude: 40 + Double($0) / 10,
                longitude: -89)
        }
        let mail = Self.all.filter(\.byMail)
        let here = Location(address: "x", latitude: 40, longitude: -89)
        let ids = ResourcePicker.pick(many + mail, near: here, language: .en).map(\.id)
        #expect(ids == ["r0", "r1", "r2", "r3", "r4", "mail"])
        let elsewhere = Location(address: "x", region: "QC", country: "CA")
        #expect(ResourcePicker.pick(Self.all, near: elsewhere, language: .fr).map(\.id) == ["mail"])
    }

    @Test("a text names the three nearest that have a phone")
    func forText() {
        let here = Location(address: "x", region: "IL", country: "US", latitude: 39.78, longitude: -89.65)
        #expect(
            ResourcePicker.forText(Self.all, near: here, language: .en).map(\.id)
                == ["springfield", "decatur", "chicago"])
    }
}
