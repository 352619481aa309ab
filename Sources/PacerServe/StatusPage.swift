/// The status page `GET /` serves: plain HTML and a script, no framework. It holds no data:
/// the script reads the key from the address's fragment (`/#key=sk-…`, never sent to the
/// server) or asks for it, then polls `GET /status` with it each second and draws each of the
/// key's batches: progress, rate and ETA (from its own polls), tokens, cost, errors, and the
/// output and error files to download (fetched with the key).
enum StatusPage {
    static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <title>pacer serve</title>
        <style>
          body { font: 14px system-ui, sans-serif; margin: 2em; color: #222; }
          table { border-collapse: collapse; width: 100%; }
          th, td { text-align: left; padding: 0.3em 0.6em; border-bottom: 1px solid #ddd; white-space: nowrap; }
          td.num { text-align: right; font-variant-numeric: tabular-nums; }
          .bar { background: #eee; width: 10em; height: 0.8em; display: inline-block; vertical-align: middle; }
          .bar > span { background: #3a7; height: 100%; display: block; }
          .failed, .expired, .cancelled { color: #b33; }
          #note { color: #666; }
        </style>
        </head>
        <body>
        <h1>pacer serve</h1>
        <form id="key-form" hidden>
          <label>API key <input id="key-input" type="password" autocomplete="off"></label>
          <button type="submit">Show my batches</button>
        </form>
        <p id="note">Loading…</p>
        <table id="batches">
          <thead><tr>
            <th>batch</th><th>status</th><th>endpoint</th><th>progress</th><th>done</th><th>failed</th>
            <th>rate</th><th>ETA</th><th>tokens</th><th>cost</th><th>errors</th><th>files</th>
          </tr></thead>
          <tbody></tbody>
        </table>
        <script>
        "use strict";
        const fragment = new URLSearchParams(location.hash.slice(1));
        let key = fragment.get("key") || sessionStorage.getItem("pacer-serve-key");
        const polls = {};
        const form = document.getElementById("key-form");
        const note = document.getElementById("note");
        form.addEventListener("submit", (event) => {
          event.preventDefault();
          key = document.getElementById("key-input").value.trim();
          sessionStorage.setItem("pacer-serve-key", key);
          form.hidden = true;
          refresh();
        });

        function cell(row, text, className) {
          const td = row.insertCell();
          td.textContent = text;
          if (className) td.className = className;
          return td;
        }

        function duration(seconds) {
          if (!isFinite(seconds)) return "–";
          if (seconds < 90) return Math.round(seconds) + " s";
          if (seconds < 5400) return Math.round(seconds / 60) + " min";
          return (seconds / 3600).toFixed(1) + " h";
        }

        function download(fileID, name) {
          fetch("/v1/files/" + fileID + "/content", { headers: { Authorization: "Bearer " + key } })
            .then((answer) => answer.blob())
            .then((blob) => {
              const link = document.createElement("a");
              link.href = URL.createObjectURL(blob);
              link.download = name;
              link.click();
            });
        }

        function fileLink(td, fileID, label, batchID) {
          if (!fileID) return;
          const link = document.createElement("a");
          link.href = "#";
          link.className = "download " + label;
          link.dataset.file = fileID;
          link.textContent = label;
          link.addEventListener("click", (event) => {
            event.preventDefault();
            download(fileID, batchID + "_" + label + ".jsonl");
          });
          td.append(link, " ");
        }

        function draw(batches) {
          const body = document.querySelector("#batches tbody");
          body.replaceChildren();
          const now = Date.now() / 1000;
          for (const batch of batches) {
            const done = batch.completed + batch.failed;
            const seen = (polls[batch.id] = (polls[batch.id] || []).concat([[now, done]]).slice(-30));
            const [firstTime, firstDone] = seen[0];
            const rate = now > firstTime ? (done - firstDone) / (now - firstTime) : 0;
            const running = batch.status === "in_progress";
            const row = body.insertRow();
            row.id = "batch-" + batch.id;
            row.dataset.status = batch.status;
            row.dataset.completed = batch.completed;
            row.dataset.failed = batch.failed;
            row.dataset.total = batch.total;
            cell(row, batch.id);
            cell(row, batch.status, batch.status);
            cell(row, batch.endpoint);
            const bar = cell(row, "");
            const outer = document.createElement("span");
            outer.className = "bar";
            const inner = document.createElement("span");
            inner.style.width = (batch.total ? (100 * done) / batch.total : 0) + "%";
            outer.append(inner);
            bar.append(outer, " " + done + " / " + batch.total);
            cell(row, String(batch.completed), "num completed");
            cell(row, String(batch.failed), "num");
            cell(row, running && rate > 0 ? (rate * 60).toFixed(0) + "/min" : "–", "num");
            cell(row, running && rate > 0 ? duration((batch.total - done) / rate) : "–", "num");
            cell(row, batch.tokens == null ? "–" : batch.tokens.toLocaleString(), "num");
            cell(row, batch.cost_usd == null ? "–" : "$" + batch.cost_usd.toFixed(4), "num");
            cell(row, batch.errors.map((error) => (error.line ? "line " + error.line + ": " : "") + error.message).join("; "));
            const files = cell(row, "");
            fileLink(files, batch.output_file_id, "output", batch.id);
            fileLink(files, batch.error_file_id, "errors", batch.id);
          }
          note.textContent = batches.length ? "Updated " + new Date().toLocaleTimeString() + "." : "No batches for this key yet.";
        }

        async function refresh() {
          if (!key) {
            form.hidden = false;
            note.textContent = "Give the API key your batches were created with (or open /#key=YOUR_KEY).";
            return;
          }
          try {
            const answer = await fetch("/status", { headers: { Authorization: "Bearer " + key } });
            if (answer.status === 401) {
              key = null;
              sessionStorage.removeItem("pacer-serve-key");
              note.textContent = "That key is not admitted.";
              form.hidden = false;
              return;
            }
            draw((await answer.json()).batches);
          } catch (error) {
            note.textContent = "The server is out of reach: " + error;
          }
        }
        refresh();
        setInterval(refresh, 1000);
        </script>
        </body>
        </html>
        """#
}
