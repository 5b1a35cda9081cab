import Testing
import VigilCore
import VigilHTTP

@Suite("tokens replaced by a reload")
struct TokenReloadTests {
    @Test("every copy of an authenticator sees the new tokens at once, and the old ones no more")
    func copiesShareTheTokens() {
        let auth = TokenAuthenticator([TokenEntry(name: "a", role: .operator, token: "token-a-0123456789")])
        let copy = auth
        copy.replace([TokenEntry(name: "b", role: .viewer, token: "token-b-0123456789")])
        #expect(auth.authenticate("token-a-0123456789") == nil)
        #expect(auth.authenticate("token-b-0123456789")?.name == "b")
    }

    @Test("replace names the tokens removed, or given another secret or role, and not those kept as they were")
    func revokedNames() {
        let auth = TokenAuthenticator([
            TokenEntry(name: "kept", role: .operator, token: "kept-0123456789"),
            TokenEntry(name: "removed", role: .viewer, token: "removed-0123456789"),
            TokenEntry(name: "rekeyed", role: .viewer, token: "old-0123456789"),
            TokenEntry(name: "demoted", role: .admin, token: "demoted-0123456789"),
        ])
        let revoked = auth.replace([
            TokenEntry(name: "kept", role: .operator, token: "kept-0123456789"),
            TokenEntry(name: "rekeyed", role: .viewer, token: "new-0123456789"),
            TokenEntry(name: "demoted", role: .viewer, token: "demoted-0123456789"),
            TokenEntry(name: "added", role: .viewer, token: "added-0123456789"),
        ])
        #expect(revoked == ["removed", "rekeyed", "demoted"])
    }

    @Test("closing an owner's streams ends those streams only")
    func closeOwners() async {
        let hub = EventHub()
        let revoked = hub.subscribe(owner: "leaked")!
        let other = hub.subscribe(owner: "console")!
        #expect(hub.close(owners: ["leaked"]) == 1)
        var it = revoked.makeAsyncIterator()
        #expect(await it.next() == nil, "the revoked token's stream ended")
        hub.tick()
        var o = other.makeAsyncIterator()
        if case .tick? = await o.next() {} else { Issue.record("the other stream still receives") }
        #expect(hub.subscriberCount == 1)
    }
}
