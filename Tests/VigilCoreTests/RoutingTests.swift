import Testing
import VigilCore
import VigilTestKit

@Suite("routing by location")
struct RoutingTests {
    /// A 10 × 10 square with a 2 × 2 hole in the middle, as GeoJSON writes it ([lon, lat]).
    static let squareWithHole = """
        {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},
         "geometry": {"type": "Polygon", "coordinates": [
           [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]],
           [[4, 4], [6, 4], [6, 6], [4, 6], [4, 4]]]}}]}
        """

    static func table(withDefault: Bool = true) throws -> RouteTable {
        let polys = try GeoJSON.polygons(from: Array(squareWithHole.utf8))
        var rules = [
            RouteRule(.polygon(file: "square.geojson", polys), target: "ems-square"),
            RouteRule(.attributes(country: "US", region: "IL", postalCodePrefix: "627"), target: "ems-sangamon"),
            RouteRule(.attributes(country: "US", region: "IL", postalCodePrefix: "6270"), target: "ems-6270"),
            RouteRule(.attributes(country: "US", region: "IL", postalCodePrefix: nil), target: "ems-illinois"),
            RouteRule(.attributes(country: "US", region: "IL", postalCodePrefix: nil), target: "ems-illinois-2"),
            RouteRule(.attributes(country: "US", region: nil, postalCodePrefix: nil), target: "ems-us"),
        ]
        if withDefault { rules.append(RouteRule(.fallback, target: "ems-national")) }
        return RouteTable(rules)
    }

    static func place(
        lat: Double? = nil, lon: Double? = nil, country: String? = nil, region: String? = nil, postal: String? = nil
    ) -> Location {
        Location(
            address: "1 Test Rd", region: region, postalCode: postal, country: country, latitude: lat, longitude: lon)
    }

    @Test(
        "a location resolves to the most specific route",
        arguments: [
            (
                "inside the polygon", place(lat: 2, lon: 2, country: "US", region: "IL"), "ems-square",
                "polygon square.geojson"
            ),
            ("on the polygon's edge", place(lat: 0, lon: 5), "ems-square", "polygon square.geojson"),
            ("on a corner", place(lat: 10, lon: 10), "ems-square", "polygon square.geojson"),
            ("on a hole's edge", place(lat: 4, lon: 5), "ems-square", "polygon square.geojson"),
            ("in the hole", place(lat: 5, lon: 5, country: "US", region: "IL"), "ems-illinois", "region IL"),
            ("outside the polygon", place(lat: 20, lon: 20, country: "US"), "ems-us", "country US"),
            (
                "postal prefix, case and spaces ignored", place(country: "us", region: " il", postal: "627 01"),
                "ems-6270", "postal_code_prefix 6270"
            ),
            (
                "the shorter prefix", place(country: "US", region: "IL", postal: "62799"), "ems-sangamon",
                "postal_code_prefix 627"
            ),
            ("a tie goes to the first entry", place(country: "US", region: "Il"), "ems-illinois", "region IL"),
            ("only the default", place(country: "CA"), "ems-national", "default"),
            ("no coordinates, no attributes", place(), "ems-national", "default"),
        ] as [(String, Location, String, String)])
    func resolves(_ name: String, _ location: Location, _ target: String, _ matched: String) throws {
        let r = try Self.table().resolve(location)
        #expect(r == SessionRoute(target: TargetName(rawValue: target), matched: matched), "\(name)")
    }

    @Test("with no match and no default, nothing resolves")
    func noRoute() throws {
        #expect(try Self.table(withDefault: false).resolve(Self.place(lat: 50, lon: 50, country: "CA")) == nil)
    }

    @Test(
        "bad GeoJSON is refused with a reason",
        arguments: [
            "not json", #"{"type": "Polygon"}"#, #"{"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}"#,
            #"{"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [999, 0]]]}"#,
            #"{"type": "Point", "coordinates": [0, 0]}"#, #"{"type": "Blob"}"#,
        ])
    func badGeoJSON(_ text: String) {
        #expect(throws: VigilError.self) { try GeoJSON.polygons(from: Array(text.utf8)) }
    }

    @Test("a MultiPolygon holds every one of its polygons")
    func multiPolygon() throws {
        let text = #"""
            {"type": "MultiPolygon", "coordinates": [[[[0, 0], [1, 0], [1, 1], [0, 0]]],
                                                     [[[5, 5], [6, 5], [6, 6], [5, 5]]]]}
            """#
        let polys = try GeoJSON.polygons(from: Array(text.utf8))
        #expect(polys.count == 2)
        #expect(polys[1].contains(GeoPoint(lon: 5.9, lat: 5.5)))
        #expect(!polys[0].contains(GeoPoint(lon: 5.9, lat: 5.5)))
    }

    static func routedEngine(table: RouteTable?) async -> Harness {
        let policy = Policy(
            name: "default", ackTimeout: .seconds(5),
            steps: [Step(after: .zero, action: .dispatch(["route", "ems2"]))])
        let h = Harness(policy: policy)
        await h.engine.setRouting(table, targets: ["ems-square", "ems-us", "ems-national", "ems2", "ems-x"])
        return h
    }

    static func request(_ l: Location) -> StartRequest {
        StartRequest(
            caller: Caller(alias: "J"), location: l, interval: .seconds(2), grace: .seconds(1), policy: "default",
            notes: nil)
    }

    @Test("an unrouted location carries routing.unresolved, and its dispatch step goes on to the next target")
    func unresolvedAtIntake() async throws {
        let h = await Self.routedEngine(table: try Self.table(withDefault: false))
        let s = try await h.start(Self.request(Self.place(lat: 50, lon: 50, country: "CA")))
        #expect(s.routing == RoutingState(route: nil))
        #expect(s.routing?.warnings == ["routing.unresolved"])
        #expect(h.types(s.id).contains(.routingUnresolved))
        try await h.advance(by: .seconds(3))
        #expect(h.sent.map(\.1) == [["ems2"]])
    }

    @Test("a default route warns until an operator pins it; a pin survives a location change")
    func defaultAndPin() async throws {
        let h = await Self.routedEngine(table: try Self.table())
        let s = try await h.start(Self.request(Self.place(country: "CA")))
        #expect(s.routing?.route == SessionRoute(target: "ems-national", matched: "default"))
        #expect(s.routing?.warnings == ["routing.default"])
        var p = SessionPatch()
        p.route = .pin("ems-national")
        let pinned = try await h.engine.execute(s.id, .update(p, by: "ana"))
        #expect(pinned.routing?.warnings == [])
        #expect(pinned.routing?.route?.matched == "pinned")
        let moved = try await h.engine.execute(
            s.id, .update(SessionPatch(location: Self.place(lat: 1, lon: 1)), by: "ana"))
        #expect(moved.routing?.route?.target == "ems-national")
        var bad = SessionPatch()
        bad.route = .pin("nowhere")
        await #expect(throws: VigilError.self) { try await h.engine.execute(s.id, .update(bad, by: "ana")) }
    }

    @Test("a location change re-resolves; after dispatch another centre alarms and dispatches nothing again")
    func reResolve() async throws {
        let h = await Self.routedEngine(table: try Self.table())
        let s = try await h.start(Self.request(Self.place(lat: 1, lon: 1)))
        #expect(s.routing?.route?.target == "ems-square")
        try await h.advance(by: .seconds(3))
        #expect(h.sent.map(\.1) == [["ems-square", "ems2"]])
        try await h.deliver(.dispatchRequested)
        let moved = try await h.engine.execute(
            s.id, .update(SessionPatch(location: Self.place(lat: 50, lon: 50, country: "US")), by: "ana"))
        #expect(moved.routing?.route?.target == "ems-us")
        #expect(h.types(s.id).contains(.routingChangedAfterDispatch))
        #expect(h.sent.filter { $0.0 == .dispatchRequested }.count == 1)
    }

    @Test("with routing off a session has no route and a pin is refused")
    func routingOff() async throws {
        let h = await Self.routedEngine(table: nil)
        let s = try await h.start(Self.request(Self.place(lat: 1, lon: 1)))
        #expect(s.routing == nil)
        var p = SessionPatch()
        p.route = .pin("ems2")
        await #expect(throws: VigilError.self) { try await h.engine.execute(s.id, .update(p, by: "ana")) }
    }
}
