import VigilCore

/// Renders a dispatch message as a NENA Emergency Incident Data Object (NENA-STA-021.1, JSON).
///
/// Every component's `$id` is derived from the session, so an update or a cancel resends the whole document with the
/// same `$id`s and a later `lastUpdateTimeStamp`; a cancel sets the incident's status to `Closed` and adds a note
/// with the reason.
public enum EIDORenderer {
    /// The incident type (`incidentTypeCommonRegistryText`) and Vigil's own code for it.
    static let incidentType = "Medical"
    /// Status values of the Incident Status registry: open while the dispatch stands, closed by a cancel.
    static let openStatus = "Open"
    static let closedStatus = "Closed"

    /// The EIDO for a webhook envelope; a message that is not a dispatch (`test.ping`) becomes a document with the
    /// agency and one note.
    public static func render(envelope body: [UInt8], hotline: Hotline = Hotline(), fields: Set<SessionField>? = nil)
        throws -> [UInt8]
    {
        try render(envelope: try VigilJSON.decode(JSONValue.self, from: body), hotline: hotline, fields: fields)
    }

    /// The same from the parsed envelope: a `dispatch.*` message through its typed brief, any other as plain notes.
    public static func render(envelope env: JSONValue, hotline: Hotline = Hotline(), fields: Set<SessionField>? = nil)
        throws -> [UInt8]
    {
        guard let b = DispatchPayload.brief(env, fields: fields, hotline: hotline) else {
            return try plain(StoredEnvelope.read(env), hotline: hotline)
        }
        return try render(b)
    }

    /// A dispatch message from its typed brief.
    public static func render(_ brief: DispatchBrief) throws -> [UInt8] { try VigilJSON.encode(document(brief)) }

    /// The agency's `$id`: `hotline.agency_id`.
    static func agency(_ h: Hotline) -> String { h.agencyID ?? Hotline.defaultAgencyID }

    /// A component's `$id`: `urn:emergency:uid:<kind>id:<session>:<agency>`, stable for the session.
    static func uid(_ kind: String, _ session: String, _ h: Hotline) -> String {
        "urn:emergency:uid:\(kind)id:\(session):\(agency(h))"
    }

    static func prologue(_ id: String, _ t: Timestamp, _ h: Hotline) -> [String: JSONValue] {
        [
            "$id": .string(id), "lastUpdateTimeStamp": .time(t),
            "updatedByAgencyReference": ["$ref": .string(agency(h))],
        ]
    }

    static func ref(_ id: String) -> JSONValue { ["$ref": .string(id)] }

    /// NENA notes are HTML5: text is escaped.
    static func html(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            default: out.append(c)
            }
        }
        return out
    }

    static func document(_ b: DispatchBrief) -> JSONValue {
        let h = b.hotline
        let t = b.sent
        let session = b.sessionID
        var doc = prologue(uid("incident", session, h), t, h)
        doc["eidoVersion"] = "1.0"
        doc["issuingElementIdentification"] = .string(agency(h))

        var notes: [JSONValue] = []
        func note(_ key: String, _ text: String) -> String {
            let id = uid("note", "\(session).\(key)", h)
            var n = prologue(id, t, h)
            n["notesActionComments"] = .string(html(text))
            notes.append(.object(n))
            return id
        }
        var noteIDs = [note("summary", b.summary), note("history", "History: " + b.history + ".")]
        if b.type == .dispatchCancelled {
            noteIDs.append(note("cancel", "Cancelled: " + (b.facts.cancelReason ?? "the dispatch is called off") + "."))
        }

        var incident = prologue(uid("incidentinfo", session, h), t, h)
        incident["incidentTypeCommonRegistryText"] = .string(incidentType)
        incident["incidentTypeInternalCode"] = "suspected_overdose"
        incident["incidentTypeInternalText"] = "Suspected overdose"
        incident["incidentStatusCommonRegistryText"] = .strings([
            b.type == .dispatchCancelled ? closedStatus : openStatus
        ])
        incident["internalIncidentId"] = .string(b.facts.incident)

        var locations: [JSONValue] = []
        if b.location != nil || b.accessNotes != nil {
            let id = uid("location", session, h)
            var l = prologue(id, t, h)
            l["locationTypeDescriptionRegistryText"] = "Incident"
            if let loc = b.location { l["locationByValue"] = .string(pidf(loc, entity: id)) }
            var text: [String] = []
            if let place = b.place { text.append(place) }
            if let access = b.accessNotes { text.append("Access: " + access) }
            l["locationDescriptionText"] = .string(text.joined(separator: ". "))
            locations.append(.object(l))
            incident["locationReference"] = [ref(id)]
        }

        var callbacks: [JSONValue] = []
        var persons: [JSONValue] = []
        if b.alias != nil || b.callbackNumber != nil || b.substance != nil {
            let id = uid("person", session, h)
            var p = prologue(id, t, h)
            p["personIncidentRoleRegistryText"] = .strings(["Patient"])
            if let alias = b.alias {
                p["ncPersonComponent"] = ["name": [["personGivenName": [["value": .string(alias)]]]]]
            }
            if let n = b.callbackNumber {
                let cid = uid("callback", session, h)
                var c = prologue(cid, t, h)
                c["callBackInformationUri"] = .strings(["tel:" + n.filter { $0 == "+" || $0.isNumber }])
                callbacks.append(.object(c))
                p["callBackReference"] = ref(cid)
            }
            if !locations.isEmpty { p["locationReference"] = [ref(uid("location", session, h))] }
            persons.append(.object(p))
            incident["personReference"] = [ref(id)]
        }
        incident["notesReference"] = .array(noteIDs.map(ref))

        var sender = prologue(agency(h), t, h)
        sender["agencyRoleDescriptionRegistryText"] = .strings(["Requesting"])
        sender["agencyType"] = .strings(["crisis_line"])
        if let card = jcard(h, operator: b.facts.operatorOnDuty) { sender["agencyJcard"] = .string(card) }

        doc["incidentComponent"] = .object(incident)
        doc["agencyComponent"] = [.object(sender)]
        if !locations.isEmpty { doc["locationComponent"] = .array(locations) }
        if !persons.isEmpty { doc["personComponent"] = .array(persons) }
        if !callbacks.isEmpty { doc["callbackComponent"] = .array(callbacks) }
        doc["notesComponent"] = .array(notes)
        return .object(doc)
    }

    /// The hotline's contact card (jCard, RFC 7095), as the agency's `agencyJcard` text.
    static func jcard(_ h: Hotline, operator: String?) -> String? {
        guard h.organization != nil || h.callbackNumber != nil else { return nil }
        var props: [JSONValue] = [["version", [:], "text", "4.0"]]
        props.append(["fn", [:], "text", .string(h.organization ?? agency(h))])
        if let n = h.callbackNumber {
            props.append(["tel", ["type": "work"], "uri", .string("tel:" + n.filter { $0 == "+" || $0.isNumber })])
        }
        if let op = `operator` { props.append(["note", [:], "text", .string("operator on duty: " + op)]) }
        let card: JSONValue = ["vcard", .array(props)]
        return (try? VigilJSON.encode(card)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The location as a PIDF-LO document: the civic address, and the point (or a circle with the measured radius).
    static func pidf(_ l: Location, entity: String) -> String {
        func e(_ s: String) -> String { CAPRenderer.esc(s) }
        var civic = ""
        for (tag, v) in [
            ("country", l.country), ("A1", l.region), ("A3", l.city), ("LOC", l.address), ("UNIT", l.unit),
            ("PC", l.postalCode),
        ] {
            if let v, !v.isEmpty { civic += "<ca:\(tag)>\(e(v))</ca:\(tag)>" }
        }
        var geo = ""
        if let lat = l.latitude, let lon = l.longitude {
            let pos = "<gml:pos>\(CAPRenderer.decimal(lat, 6)) \(CAPRenderer.decimal(lon, 6))</gml:pos>"
            if let a = l.accuracyM {
                geo =
                    "<gs:Circle srsName=\"urn:ogc:def:crs:EPSG::4326\">\(pos)"
                    + "<gs:radius uom=\"urn:ogc:def:uom:EPSG::9001\">\(CAPRenderer.decimal(a, 1))</gs:radius>"
                    + "</gs:Circle>"
            } else {
                geo = "<gml:Point srsName=\"urn:ogc:def:crs:EPSG::4326\">\(pos)</gml:Point>"
            }
        }
        return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
            + "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" xmlns:gp=\"urn:ietf:params:xml:ns:pidf:geopriv10\" "
            + "xmlns:ca=\"urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr\" xmlns:gml=\"http://www.opengis.net/gml\" "
            + "xmlns:gs=\"http://www.opengis.net/pidflo/1.0\" entity=\"\(e(entity))\"><tuple id=\"location\"><status>"
            + "<gp:geopriv><gp:location-info><ca:civicAddress>\(civic)</ca:civicAddress>\(geo)</gp:location-info>"
            + "<gp:usage-rules/></gp:geopriv></status></tuple></presence>"
    }

    /// A message without dispatch facts: the agency and a note saying what it is.
    static func plain(_ env: StoredEnvelope?, hotline h: Hotline) throws -> [UInt8] {
        let t = env?.timestamp ?? Timestamp(millis: 0)
        let type = env?.type ?? "unknown"
        let key = env?.data?.session?.id ?? "vigil"
        var doc = prologue(uid("incident", key, h), t, h)
        doc["eidoVersion"] = "1.0"
        doc["issuingElementIdentification"] = .string(agency(h))
        var sender = prologue(agency(h), t, h)
        sender["agencyRoleDescriptionRegistryText"] = .strings(["Requesting"])
        sender["agencyType"] = .strings(["crisis_line"])
        if let card = jcard(h, operator: nil) { sender["agencyJcard"] = .string(card) }
        doc["agencyComponent"] = [.object(sender)]
        var n = prologue(uid("note", "\(key).\(type)", h), t, h)
        let message = env?.data?.message.map { ": " + $0 } ?? ""
        n["notesActionComments"] = .string(html("\(type) from Vigil" + message))
        doc["notesComponent"] = [.object(n)]
        return try VigilJSON.encode(JSONValue.object(doc))
    }
}
