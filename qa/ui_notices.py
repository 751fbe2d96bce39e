"""Gradio's own notices, in Chinese.

Some messages of the page are written by Gradio's frontend itself, in English, as toasts: a
file over the upload limit or of a type its upload box does not take (both checked in the
browser), an upload the server refused (``HTTP 413: {"error": …}``), a question turned away
because the queue is full, a lost connection; and the progress label of a waiting event
(``queue: 3/40 |``, ``processing |``). No server setting reaches those texts, so
``SCRIPT`` (part of the page's ``<head>``) rewrites each one into the Chinese message below
as it appears; a refusal the server explained in Chinese (the upload caps of
``qa/serving.py``) is shown as the server said it. The toast is the whole message: ``CSS``
drops the 错误 badge Gradio also lays over the event's components, which would hide the
conversation or the files already in an upload box. ``RULES`` are the English texts it
recognises (regular expressions, shared by the script and the tests that check them
against the installed Gradio).
"""

from __future__ import annotations

import json

from .microbatch import BUSY_MESSAGE

UNSUPPORTED_TYPE = "不支持的文件类型（只接受 {types}）"
NOTICES = {
    "busy": BUSY_MESSAGE,
    "too_large": "无法上传 {names}：文件超过上传上限{limit}。",  # limit: "（10 MB）" or ""
    "too_large_server": "无法上传：文件超过上传上限{limit}。",
    "wrong_type": "无法上传 {names}：" + UNSUPPORTED_TYPE + "。",
    "wrong_type_server": "无法使用上传的文件：" + UNSUPPORTED_TYPE + "。",
    "refused": "无法上传：{reason}",
    "upload_failed": "上传失败（HTTP {status}），请稍后再试。",
    "connection": "与服务器的连接中断，请检查网络后刷新页面重试。",
    "more": "等 {count} 个文件",  # "a.exe, b.exe and 3 more": 5 names shown, then the rest
    "queue": "排队中 {position}/{size} |",
    "processing": "处理中 |",
}
TITLES = {"Error": "错误", "Warning": "警告", "Info": "提示", "Success": "成功"}
# Gradio's English texts (6.x frontend and File.preprocess): notice -> pattern
RULES = {
    "busy": r"^This application is currently busy\. Please try again\.",
    "too_large": r"^File\(s\) exceed the maximum allowed size of (.+?): (.+)$",
    "wrong_type": r"^Invalid file types?: (.+)\. Only (.+) allowed\.$",
    "wrong_type_server": (
        r"^Invalid file type\. Please upload a file that is one of these formats: \[(.*)\]$"
    ),
    "upload_http": r"^HTTP (\d{3}): ([\s\S]*)$",
    "connection": r"^Connection errored out\.",
    "queue": r"^queue: (\d+)/(\d*) \|$",  # progress labels
    "processing": r"^processing \|$",
}

CSS = """
[data-testid="status-tracker"]:has(> .error) { display: none !important; }
"""

_SCRIPT = """<script>
(() => {
  const T = __NOTICES__, TITLES = __TITLES__, RULES = __RULES__;
  const rule = Object.fromEntries(Object.entries(RULES).map(([k, p]) => [k, new RegExp(p)]));
  const fill = (text, values) => text.replace(/\\{(\\w+)\\}/g, (_, k) => values[k] ?? "");
  const names = (s) => {  // '"a.exe", "b.exe"' or 'a.exe, b.exe and 3 more'
    const more = s.match(/ and (\\d+) more$/);
    const list = s.replace(/ and \\d+ more$/, "").replace(/"/g, "").split(/,\\s*/);
    return list.join("、") + (more ? fill(T.more, { count: list.length + +more[1] }) : "");
  };
  const types = (s) => s.replace(/'/g, "").split(/,\\s*/).join(" / ");
  const size = (s) => {  // "10.0 Mb" -> "（10 MB）"
    const m = s.match(/^([\\d.]+)\\s*(\\w+)$/);
    return `（${m ? `${parseFloat(m[1])} ${m[2].toUpperCase()}` : s}）`;
  };
  const limit = () => {  // the page's own limit, as Gradio's config gives it
    const bytes = (window.gradio_config || {}).max_file_size;
    return bytes ? `（${+(bytes / 1048576).toFixed(1)} MB）` : "";
  };
  const cjk = /[\\u4e00-\\u9fff]/;
  function refused(status, body) {
    let reason = body.trim();
    try {
      const data = JSON.parse(reason);
      reason = String(data.error || data.detail || reason);
    } catch (e) {}
    if (cjk.test(reason)) return fill(T.refused, { reason });
    if (status === "413") return fill(T.too_large_server, { limit: limit() });
    return fill(T.upload_failed, { status });
  }
  function chinese(text) {
    const t = text.trim();
    let m;
    if (rule.busy.test(t)) return T.busy;
    if (rule.connection.test(t)) return T.connection;
    if ((m = t.match(rule.too_large)))
      return fill(T.too_large, { limit: size(m[1]), names: names(m[2]) });
    if ((m = t.match(rule.wrong_type)))
      return fill(T.wrong_type, { names: names(m[1]), types: types(m[2]) });
    if ((m = t.match(rule.wrong_type_server)))
      return fill(T.wrong_type_server, { types: types(m[1]) });
    if ((m = t.match(rule.upload_http))) return refused(m[1], m[2]);
    return null;
  }
  function label(text) {
    const t = text.trim();
    const m = t.match(rule.queue);
    if (m) return fill(T.queue, { position: m[1], size: m[2] || "?" });
    return rule.processing.test(t) ? T.processing : null;
  }
  const KINDS = [  // [selector, what its text becomes]
    ['[data-testid="toast-text"]', chinese],
    [".toast-title", (t) => TITLES[t.trim()] && TITLES[t.trim()] + " "],
    [".progress-text", label],
  ];
  function translate() {  // text nodes are changed in place: the page keeps updating them
    for (const [selector, change] of KINDS) {
      document.querySelectorAll(selector).forEach((el) => el.childNodes.forEach((node) => {
        if (node.nodeType !== Node.TEXT_NODE || !node.nodeValue.trim()) return;
        const text = change(node.nodeValue);
        if (text && text !== node.nodeValue) node.nodeValue = text;
      }));
    }
  }
  new MutationObserver(translate).observe(
    document.documentElement, { childList: true, subtree: true, characterData: true });
})();
</script>"""

SCRIPT = (
    _SCRIPT.replace("__NOTICES__", json.dumps(NOTICES, ensure_ascii=False))
    .replace("__TITLES__", json.dumps(TITLES, ensure_ascii=False))
    .replace("__RULES__", json.dumps(RULES))
)
