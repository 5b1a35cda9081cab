import Foundation
import VigilCore
import VigilDelivery
import VigilHTTP
import Yams

/// `targets`: each webhook receiver, its format, secret, TLS, proxy, retries and fields.
extension ConfigLoader.Parser {
    mutating func targets(_ n: Node) -> [TargetName: Target] {
        guard let f = map(n, "targets", allowed: []) else { return [:] }
        var out: [TargetName: Target] = [:]
        for (name, _, v) in f {
            let place = "target \(name)"
            guard
                let tf = map(
                    v, place,
                    allowed: Set([
                        "url", "format", "secret", "secret_env", "secret_file", "timeout_s", "retry", "tls",
                        "proxy", "insecure_http", "fields", "accept_timeout_s", "arrival_timeout_s",
                        "previous_secret", "previous_secret_env", "previous_secret_file", "failover_after_s",
                    ]).union(Self.twilioTargetKeys))
            else { continue }
            var url: String?
            var urlNode: Node?
            var proxy: String?
            var insecureHTTP = false
            var fields: Set<SessionField>?
            var format = PayloadFormat.json
            var timeout = Millis.seconds(10)
            var failoverAfter = Millis.seconds(30)
            var retry = RetrySettings()
            var tls: TLSFiles?
            for (k, _, tv) in tf {
                switch k {
                case "url":
                    if let s = string(tv, "\(place).url") {
                        if s.hasPrefix("https://") || s.hasPrefix("http://") {
                            url = s
                            urlNode = tv
                        } else {
                            fail(tv, "\(place).url must start with https:// (or http:// for a local receiver)")
                        }
                    }
                case "proxy":
                    if let s = string(tv, "\(place).proxy") {
                        if s.hasPrefix("http://") || s.hasPrefix("https://") || s.hasPrefix("socks5h://") {
                            proxy = s
                        } else {
                            fail(tv, "\(place).proxy must start with http://, https:// or socks5h://")
                        }
                    }
                case "fields":
                    guard let seq = tv.sequence else {
                        fail(tv, "\(place).fields must be a list, e.g. [alias, location]")
                        break
                    }
                    var set = Set<SessionField>()
                    for item in seq {
                        if let name = item.scalar?.string, let f = WebhookFields.field(named: name) {
                            set.insert(f)
                        } else {
                            let known = SessionField.allCases.map(\.rawValue).joined(separator: ", ")
                            fail(
                                item,
                                "\(place).fields: unknown field \"\(item.scalar?.string ?? "?")\" (known: \(known))"
                            )
                        }
                    }
                    fields = set
                case "insecure_http":
                    if let b = tv.scalar?.string, let v = Bool(b) {
                        insecureHTTP = v
                    } else {
                        fail(tv, "\(place).insecure_http must be true or false")
                    }
                case "format":
                    if let s = tv.scalar?.string, let fm = PayloadFormat(rawValue: s) {
                        format = fm
                    } else {
                        fail(tv, "\(place).format must be json, cap, eido or twilio")
                    }
                case "timeout_s":
                    if let d = duration(tv, "\(place).timeout_s", min: 0.1, max: 120) { timeout = d }
                case "failover_after_s":
                    if let d = duration(tv, "\(place).failover_after_s", min: 0.1, max: 3600) { failoverAfter = d }
                case "retry":
                    guard
                        let rf = map(
                            tv, "\(place).retry", allowed: ["max_attempts", "initial_backoff_s", "max_backoff_s"])
                    else { break }
                    for (rk, _, rv) in rf {
                        if rk == "max_attempts", let i = int(rv, "\(place).retry.max_attempts", range: 1...100) {
                            retry.maxAttempts = i
                        }
                        if rk == "initial_backoff_s",
                            let d = duration(rv, "\(place).retry.initial_backoff_s", min: 0.01, max: 3600)
                        {
                            retry.initialBackoff = d
                        }
                        if rk == "max_backoff_s",
                            let d = duration(rv, "\(place).retry.max_backoff_s", min: 0.01, max: 86400)
                        {
                            retry.maxBackoff = d
                        }
                    }
                    if retry.maxBackoff < retry.initialBackoff {
                        fail(tv, "\(place).retry.max_backoff_s must not be less than initial_backoff_s")
                    }
                case "tls":
                    guard
                        let lf = map(
                            tv, "\(place).tls", allowed: ["ca_file", "client_cert_file", "client_key_file"])
                    else { break }
                    var t = TLSFiles()
                    for (lk, _, lv) in lf {
                        guard let path = string(lv, "\(place).tls.\(lk)") else { continue }
                        if !FileManager.default.isReadableFile(atPath: path) {
                            fail(lv, "\(place).tls.\(lk): cannot read \(path)")
                        }
                        switch lk {
                        case "ca_file": t.caFile = path
                        case "client_cert_file": t.clientCertFile = path
                        default: t.clientKeyFile = path
                        }
                    }
                    if (t.clientCertFile == nil) != (t.clientKeyFile == nil) {
                        fail(tv, "\(place).tls: client_cert_file and client_key_file go together")
                    }
                    tls = t
                default:
                    break
                }
            }
            if format == .twilio, url == nil, let sid = twilioAccountSID(tf) {
                url = TwilioAccount.messagesURL(accountSID: sid)
            }
            guard let url else {
                fail(v, "\(place) needs a url")
                continue
            }
            // Addresses and phone numbers never cross a network in clear text unless a target says so.
            if url.hasPrefix("http://"), !TargetURL.isLoopback(url), !insecureHTTP {
                fail(
                    urlNode ?? v,
                    "\(place).url: http:// is allowed only for a loopback receiver; use https:// "
                        + "(or set insecure_http: true on the target, which sends personal data unencrypted)")
            }
            if url.hasPrefix("http://"), !TargetURL.isLoopback(url), insecureHTTP {
                warnings.append("\(place) sends personal data over unencrypted http:// (insecure_http: true)")
            }
            if !refuseTwilioKeys(tf, format: format, place: place) { continue }
            if format == .twilio {
                guard let account = twilioAccount(tf, owner: v, place: place) else { continue }
                var target = Target(
                    name: TargetName(rawValue: name), url: url, format: format, signer: WebhookSigner.unused,
                    timeout: timeout, retry: retry, tls: tls, proxy: proxy, fields: fields, failoverAfter: failoverAfter
                )
                target.twilio = account
                out[TargetName(rawValue: name)] = target
                continue
            }
            guard let s = secret(tf, "secret", place, owner: v) else { continue }
            guard var signer = WebhookSigner(secret: s) else {
                fail(v, "\(place): the secret must be whsec_ followed by base64 of at least 16 bytes")
                continue
            }
            // A secret rotation: both signatures go with every attempt until the previous secret is removed.
            if tf.contains(where: { $0.0.hasPrefix("previous_secret") }) {
                guard let p = secret(tf, "previous_secret", place, owner: v) else { continue }
                guard let rotating = WebhookSigner(secret: s, previous: p) else {
                    fail(v, "\(place): the previous_secret must be whsec_ followed by base64 of at least 16 bytes")
                    continue
                }
                signer = rotating
            }
            out[TargetName(rawValue: name)] = Target(
                name: TargetName(rawValue: name), url: url, format: format, signer: signer, timeout: timeout,
                retry: retry, tls: tls,
                proxy: proxy, fields: fields, failoverAfter: failoverAfter)
        }
        return out
    }
}
