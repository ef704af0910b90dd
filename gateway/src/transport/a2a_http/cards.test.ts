// Cards rewritten for the gateway: the agent's own name, skills and modes pass
// on; its URLs, interfaces and security never do; each version gets its shape.
import t from "tap";
import { agentCard, baseUrlOf, ECHO_CARD, wantsV1 } from "./cards.js";

const upstream = {
  name: "Upstream",
  description: "d",
  version: "2",
  url: "http://10.0.0.5/a2a",
  preferredTransport: "JSONRPC",
  additionalInterfaces: [{ url: "http://10.0.0.5/rest", transport: "HTTP+JSON" }],
  supportedInterfaces: [{ url: "http://10.0.0.5/a2a", protocolBinding: "JSONRPC", protocolVersion: "1.0" }],
  securitySchemes: { key: { type: "apiKey" } },
  securityRequirements: [{ key: [] }],
  security: [{ key: [] }],
  capabilities: { streaming: true, pushNotifications: true, extendedAgentCard: true },
  skills: [{ id: "s", name: "S", description: "x" }],
  signatures: [{ protected: "x", signature: "y" }],
};

t.test("v1.0: the gateway's interface only, no security of the agent's, push and extended card off", async (t) => {
  const c = agentCard(upstream, "http://gw/a2a/up", "http://gw", true);
  t.match(c, { name: "Upstream", version: "2", supportedInterfaces: [{ url: "http://gw/a2a/up", protocolBinding: "JSONRPC", protocolVersion: "1.0" }] });
  t.same(c.securitySchemes, {});
  t.same(c.capabilities, { streaming: true, pushNotifications: true, extendedAgentCard: false }, "push notifications are the gateway's");
  t.notOk(JSON.stringify(c).includes("10.0.0.5"), "nothing of the agent's address");
  t.notOk("signatures" in c || "url" in c || "security" in c);
  t.same(c.skills, [{ tags: [], id: "s", name: "S", description: "x" }], "skills get the tags a v0.3 client needs");
});

t.test("v0.3: url + preferredTransport, the fields its client requires", async (t) => {
  const c = agentCard(upstream, "http://gw/a2a/up", "http://gw", false);
  t.match(c, {
    url: "http://gw/a2a/up",
    preferredTransport: "JSONRPC",
    protocolVersion: "0.3.0",
    defaultInputModes: ["text/plain"],
    defaultOutputModes: ["text/plain"],
  });
  t.notOk("supportedInterfaces" in c || "additionalInterfaces" in c || "securitySchemes" in c);
  t.notOk(JSON.stringify(c).includes("10.0.0.5"));
  t.match(agentCard(ECHO_CARD, "http://gw/a2a/echo", "http://gw", false), { name: "echo", capabilities: { streaming: true } });
});

t.test("the base URL from Host; the card version from A2A-Version", async (t) => {
  t.equal(baseUrlOf("gw.example:8443"), "http://gw.example:8443");
  t.equal(baseUrlOf("[::1]:8443"), "http://[::1]:8443");
  t.equal(baseUrlOf('evil"/><x'), "http://localhost", "a Host that is not one");
  t.equal(baseUrlOf(""), "http://localhost");
  t.ok(wantsV1("1.0") && wantsV1("1") && wantsV1(" 1.0 "));
  t.notOk(wantsV1("") || wantsV1("0.3") || wantsV1("10") || wantsV1("2.0"));
});
