// The review page of `repair serve`: the text with each restoration in place, for an editor to accept,
// reject or change. Plain JavaScript, no build step. Offsets from the API count Unicode code points
// (Python string indices); JavaScript strings count UTF-16 units, so the text is kept as an array of
// code points and every slice goes through it.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const DECISIONS = ["pending", "accepted", "rejected", "changed"];
  const state = { points: [], result: null, edits: [], current: -1, name: "text.txt" };

  const slice = (a, b) => state.points.slice(a, b).join("");
  const applied = (e) => e.decision === "accepted" || e.decision === "changed";  // in the reviewed text
  const tally = () => Object.fromEntries(DECISIONS.map((d) => [d, state.edits.filter((e) => e.decision === d).length]));
  const pct = (p) => Math.round(p * 100) + "%";

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;  // never innerHTML: the text is the user's
    return node;
  }

  function say(message, isError = false) {
    $("status").textContent = message;
    $("status").classList.toggle("error", isError);
  }

  function headers() {
    const h = { "content-type": "application/json" };
    const token = $("token").value.trim();
    if (token) h.authorization = "Bearer " + token;
    return h;
  }

  async function call(method, path, body) {
    const res = await fetch(path, { method, headers: headers(), body: body && JSON.stringify(body) });
    let data = null;
    try { data = await res.json(); } catch (e) { data = { error: res.status + " " + res.statusText }; }
    if (!res.ok) throw new Error(data.error || res.status + " " + res.statusText);
    return data;
  }

  // -- the models' readiness ----------------------------------------------------------------
  async function waitReady() {
    for (;;) {
      try {
        await call("GET", "healthz");
        say("Ready.");
        $("run").disabled = false;
        return;
      } catch (e) {
        say(e.message, !/loading/.test(e.message));
        $("run").disabled = true;
      }
      await new Promise((r) => setTimeout(r, 2000));
    }
  }

  // -- fix and show ---------------------------------------------------------------------------
  async function run() {
    const text = $("input").value;
    if (!text.trim()) { say("Paste a text or open a file first.", true); return; }
    const body = { text };
    const floor = $("min-confidence").value.trim();
    if (floor !== "") body.min_confidence = Number(floor);
    $("run").disabled = true;
    say("Repairing…");
    try {
      const result = await call("POST", "v1/fix", body);
      show(result, text);
      say(`${result.edits.length} restoration${result.edits.length === 1 ? "" : "s"} proposed.`);
    } catch (e) {
      say(e.message, true);
    } finally {
      $("run").disabled = false;
    }
  }

  // a fix result's offsets point into the input (its "text" is the restored one): the review starts from it
  function show(result, input) {
    state.result = result;
    state.points = Array.from(input);
    state.edits = result.edits.slice().sort((a, b) => a.start - b.start)
      .map((e, i) => ({ ...e, index: i, decision: "pending", final: e.after }));
    state.current = state.edits.length ? 0 : -1;
    $("signature").textContent = result.signature;
    $("input-pane").hidden = true;
    $("review").hidden = false;
    $("back").hidden = false;
    renderDoc();
    renderList();
    focus(state.current);
    $("doc").focus();
  }

  function tint(score) {
    const a = Math.max(0, Math.min(1, score)) * 0.22;
    return `rgba(214, 69, 65, ${a.toFixed(3)})`;
  }

  function editNode(e) {
    const node = el("span", "edit " + e.decision);
    node.dataset.index = e.index;
    node.title = `${e.before} → ${e.after} (confidence ${pct(e.confidence)})`;
    if (e.editing) {
      const input = el("input");
      input.value = e.final;
      input.setAttribute("aria-label", "Replacement");
      input.addEventListener("keydown", (ev) => {
        ev.stopPropagation();
        if (ev.key === "Enter") { ev.preventDefault(); finishEdit(e, input.value); }
        if (ev.key === "Escape") { ev.preventDefault(); finishEdit(e, null); }
      });
      node.append(el("del", "", e.before), " ", input);
      setTimeout(() => { input.focus(); input.select(); });
      return node;
    }
    node.append(el("del", "", e.before), el("ins", "", e.final), el("span", "conf", pct(e.confidence)));
    node.addEventListener("click", () => focus(e.index));
    return node;
  }

  function renderDoc() {
    const doc = $("doc");
    const frag = document.createDocumentFragment();
    const edits = state.edits;
    let pos = 0, k = 0;
    const upTo = (parent, end) => {  // the text and the edits from pos up to end, into parent
      while (k < edits.length && edits[k].start < end) {
        const e = edits[k++];
        if (e.start < pos) continue;  // overlapping edits do not come from the API; never draw one twice
        parent.append(slice(pos, e.start), editNode(e));
        pos = e.end;
      }
      if (end > pos) { parent.append(slice(pos, end)); pos = end; }
    };
    for (const s of state.result.sentences) {
      if (s.start > pos) upTo(frag, s.start);
      const span = el("span", "sent");
      span.style.backgroundColor = tint(s.score);
      span.title = `spin score ${s.score.toFixed(2)}`;
      span.dataset.score = s.score;
      upTo(span, Math.max(s.end, pos));
      frag.append(span);
    }
    upTo(frag, state.points.length);
    doc.replaceChildren(frag);
    markCurrent();
  }

  function renderList() {
    const list = $("list");
    list.replaceChildren(...state.edits.map((e) => {
      const li = el("li", e.index === state.current ? "current" : "");
      li.dataset.index = e.index;
      const what = el("span", "what");
      what.append(el("del", "", e.before), " → ", el("ins", "", e.final));
      li.append(what, el("span", "pct", pct(e.confidence)), el("span", "badge " + e.decision, e.decision));
      li.addEventListener("click", () => focus(e.index));
      return li;
    }));
    const n = tally();
    $("counts").textContent = `${n.accepted + n.changed} accepted · ${n.rejected} rejected · ${n.pending} pending`;
  }

  function markCurrent() {
    document.querySelectorAll(".edit.current, #list li.current").forEach((x) => x.classList.remove("current"));
    if (state.current < 0) return;
    document.querySelectorAll(`[data-index="${state.current}"]`).forEach((x) => x.classList.add("current"));
  }

  function focus(i) {
    if (!state.edits.length) return;
    state.current = Math.max(0, Math.min(state.edits.length - 1, i));
    markCurrent();
    const node = document.querySelector(`.edit[data-index="${state.current}"]`);
    if (node) node.scrollIntoView({ block: "nearest" });
  }

  // -- decisions ------------------------------------------------------------------------------
  function decide(decision, advance = true) {
    const e = state.edits[state.current];
    if (!e) return;
    e.decision = decision;
    if (decision !== "changed") e.final = e.after;  // accepting a changed edit takes the proposal again
    refresh();
    if (advance) focus(state.current + 1);
  }

  function startEdit() {
    const e = state.edits[state.current];
    if (!e) return;
    e.editing = true;
    renderDoc();
  }

  function finishEdit(e, value) {
    e.editing = false;
    if (value !== null) {
      e.final = value;
      e.decision = value === e.after ? "accepted" : value === e.before ? "rejected" : "changed";
    }
    refresh();
    $("doc").focus();
    if (value !== null) focus(e.index + 1);
  }

  function acceptAbove() {
    const level = Number($("level").value) / 100;
    for (const e of state.edits) if (e.decision === "pending" && e.confidence >= level) e.decision = "accepted";
    refresh();
  }

  function rejectRest() {
    for (const e of state.edits) if (e.decision === "pending") e.decision = "rejected";
    refresh();
  }

  function refresh() { renderDoc(); renderList(); }

  // -- export: the input with exactly the accepted (or changed) edits applied -----------------------
  function reviewed() {
    let out = "", pos = 0;
    for (const e of state.edits) {
      if (!applied(e)) continue;
      out += slice(pos, e.start) + e.final;
      pos = e.end;
    }
    return out + slice(pos, state.points.length);
  }

  function report() {
    return {
      tool: "repair",
      signature: state.result.signature,
      reviewed_at: new Date().toISOString(),
      input_length: state.points.length,
      summary: tally(),
      edits: state.edits.map((e) => ({
        start: e.start, end: e.end, before: e.before, proposed: e.after, confidence: e.confidence,
        decision: e.decision, text: applied(e) ? e.final : e.before,
      })),
    };
  }

  function download(name, text, type) {
    const url = URL.createObjectURL(new Blob([text], { type }));
    const a = el("a");
    a.href = url;
    a.download = name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  async function copy() {
    const text = reviewed();
    try {
      await navigator.clipboard.writeText(text);
    } catch (e) {  // no clipboard API (a page served over plain HTTP to another machine): select and copy
      const area = el("textarea");
      area.value = text;
      document.body.append(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    say("The reviewed text is on the clipboard.");
  }

  const stem = () => state.name.replace(/\.[^.]*$/, "");

  // -- wiring ---------------------------------------------------------------------------------
  $("run").addEventListener("click", run);
  $("file").addEventListener("change", async (ev) => {
    const file = ev.target.files[0];
    if (!file) return;
    state.name = file.name;
    $("input").value = await file.text();
    say(`Opened ${file.name}.`);
  });
  $("level").addEventListener("input", () => { $("level-out").textContent = $("level").value + "%"; });
  $("accept-above").addEventListener("click", acceptAbove);
  $("reject-rest").addEventListener("click", rejectRest);
  $("download").addEventListener("click", () => download(stem() + ".reviewed.txt", reviewed(), "text/plain;charset=utf-8"));
  $("copy").addEventListener("click", copy);
  $("report").addEventListener("click", () =>
    download(stem() + ".review.json", JSON.stringify(report(), null, 2) + "\n", "application/json"));
  $("back").addEventListener("click", () => {
    $("review").hidden = $("back").hidden = true;
    $("input-pane").hidden = false;
    say("");
  });

  const KEYS = {
    j: () => focus(state.current + 1), ArrowDown: () => focus(state.current + 1), n: () => focus(state.current + 1),
    k: () => focus(state.current - 1), ArrowUp: () => focus(state.current - 1), p: () => focus(state.current - 1),
    a: () => decide("accepted"), r: () => decide("rejected"), u: () => decide("pending", false), e: startEdit,
  };
  document.addEventListener("keydown", (ev) => {
    if ($("review").hidden || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (["INPUT", "TEXTAREA", "SELECT"].includes(ev.target.tagName) && ev.target.type !== "range") return;
    const action = KEYS[ev.key];
    if (action) { ev.preventDefault(); action(); }
  });

  // for the tests and for a caller that embeds the page: the reviewed text and the report
  window.repairReview = { reviewed, report, state };
  waitReady();
})();
