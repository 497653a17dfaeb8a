// Parse a mermaid flowchart with mermaid's own parser (in jsdom, no browser) and
// print its vertices and edges as JSON: {"vertices": {id: text}, "edges": [[from, to, text]]}.
// Entities (#34;) come back decoded. Exit 1 with {"error": ...} when mermaid rejects it.
import fs from "node:fs";
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!DOCTYPE html><body></body>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });

// mermaid keeps "#34;" as a placeholder until it renders; undo that here
const decode = (s) =>
  String(s ?? "")
    .replace(/ﬂ°°(\d+)¶ß/g, (_, n) => String.fromCodePoint(Number(n)))
    .replace(/ﬂ°(\w+)¶ß/g, (_, name) => `&${name};`);

const text = fs.readFileSync(process.argv[2] ?? 0, "utf8");
try {
  await mermaid.parse(text);
  const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
  const vertices = {};
  for (const [id, v] of diagram.db.getVertices()) vertices[id] = decode(v.text);
  const edges = diagram.db.getEdges().map((e) => [e.start, e.end, decode(e.text)]);
  console.log(JSON.stringify({ type: diagram.type, vertices, edges }));
} catch (e) {
  console.log(JSON.stringify({ error: String(e?.message ?? e) }));
  process.exit(1);
}
