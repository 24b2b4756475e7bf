// The analysts' dashboard (issue 15). Pages are rendered by the server; this script
//  - draws every chart from the aggregates API (/api/v1/aggregates/...) with the analyst's session, so the
//    dashboard shows exactly what an integrator's BI reads;
//  - applies a filter change without a full reload: the URL changes (history.pushState, so a link reproduces the
//    view and Back works), the page is fetched again and swapped in, and the charts load again;
//  - sends a click on a chart segment to the console's calls list filtered to exactly those calls;
//  - runs a background export with a progress bar.
// No inline code anywhere (the pages run under a strict Content-Security-Policy): data comes from json_script
// blocks and data- attributes.
(() => {
  "use strict";

  const root = document.querySelector("[data-dash]");
  if (!root) return;
  const consolePath = root.dataset.consolePath || "/admin/calls/call/";
  const COLORS = {
    bar: "rgba(79, 110, 247, 0.55)",
    line: "#d9480f",
    grid: "#e6e8ef",
    sentiment: { negative: "#e03131", neutral: "#adb5bd", positive: "#2f9e44" },
    outcome: ["#2f9e44", "#66a80f", "#1c7ed6", "#e03131", "#f08c00", "#7048e8", "#868e96"],
  };
  let charts = [];
  let pending = 0;
  window.dashCharts = charts; // the browser tests look at the drawn charts

  if (window.Chart) {
    window.Chart.defaults.animation = false; // a chart is drawn as soon as its data arrives (and screenshots agree)
    window.Chart.defaults.font.family = "system-ui, sans-serif";
  }

  const readJson = (id) => {
    const element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : {};
  };

  function consoleUrl(extra) {
    const params = new URLSearchParams();
    const merged = Object.assign({}, readJson("dash-console"), extra);
    for (const [key, value] of Object.entries(merged)) {
      if (value !== null && value !== undefined && value !== "") params.set(key, value);
    }
    return `${consolePath}?${params.toString()}`;
  }

  function apiUrl(path) {
    return path.includes("?") ? path : `${path}${window.location.search}`; // a URL with its own query keeps it
  }

  function setReady(ready) {
    root.dataset.dashReady = ready ? "true" : "false";
  }

  function track(promise) {
    pending += 1;
    setReady(false);
    return promise.finally(() => {
      pending -= 1;
      if (pending === 0) setReady(true);
    });
  }

  async function getJson(path) {
    const response = await fetch(apiUrl(path), { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return response.json();
  }

  function stateOf(container, kind, text) {
    const state = container.querySelector("[data-dash-state]");
    if (!state) return;
    state.textContent = text || "";
    state.classList.toggle("is-hidden", kind === "ready");
    state.classList.toggle("is-error", kind === "error");
    container.classList.toggle("is-empty", kind === "empty");
  }

  function draw(canvas, config) {
    const chart = new window.Chart(canvas, config);
    charts.push(chart);
    return chart;
  }

  function onSegment(handler) {
    return (event, elements) => {
      if (elements.length) window.location.assign(handler(elements[0].index, elements[0].datasetIndex));
    };
  }

  function dayLabel(start, interval) {
    if (interval === "hour") return start.slice(11, 16);
    const [year, month, day] = start.split("-").map(Number);
    return new Date(Date.UTC(year, month - 1, day)).toLocaleDateString(document.documentElement.lang || undefined, {
      day: "numeric",
      month: "short",
      timeZone: "UTC",
    });
  }

  function weekdayOf(isoDay) {
    const [year, month, day] = isoDay.split("-").map(Number);
    return (new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 6) % 7; // Monday = 0, as the console's weekhour
  }

  function seriesConfig(points, interval, labels, drill) {
    return {
      data: {
        labels: points.map((p) => dayLabel(p.start, interval)),
        datasets: [
          { type: "bar", label: labels.calls, data: points.map((p) => p.calls), backgroundColor: COLORS.bar, yAxisID: "y" },
          {
            type: "line",
            label: labels.mean_score,
            data: points.map((p) => p.mean_score),
            borderColor: COLORS.line,
            backgroundColor: COLORS.line,
            spanGaps: true,
            yAxisID: "score",
          },
        ],
      },
      options: {
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          y: { beginAtZero: true, ticks: { precision: 0 }, grid: { color: COLORS.grid } },
          score: { position: "right", min: 0, max: 100, grid: { drawOnChartArea: false } },
        },
        onClick: drill ? onSegment((index) => drill(points[index])) : undefined,
      },
    };
  }

  function seriesDrill(interval) {
    return (point) => {
      if (interval === "hour") {
        const day = point.start.slice(0, 10);
        const hour = Number(point.start.slice(11, 13));
        return consoleUrl({ started_from: day, started_to: day, weekhour: `${weekdayOf(day)}-${hour}` });
      }
      return consoleUrl({ started_from: point.start, started_to: point.start });
    };
  }

  function doughnut(container, mix, names, colors, param, emptyText) {
    const keys = Object.keys(mix);
    const total = keys.reduce((sum, key) => sum + mix[key], 0);
    if (!total) {
      stateOf(container, "empty", emptyText);
      return;
    }
    stateOf(container, "ready");
    draw(container.querySelector("canvas"), {
      type: "doughnut",
      data: {
        labels: keys.map((key) => names[key] || key),
        datasets: [{ data: keys.map((key) => mix[key]), backgroundColor: keys.map((key, i) => colors[key] || colors[i]) }],
      },
      options: {
        maintainAspectRatio: false,
        plugins: { legend: { position: "right" } },
        onClick: onSegment((index) => consoleUrl({ [param]: keys[index] })),
      },
    });
  }

  function heatmap(container, data, labels) {
    container.replaceChildren();
    if (!data.total) {
      const empty = document.createElement("p");
      empty.className = "dash-muted";
      empty.textContent = labels.no_data;
      container.append(empty);
      return;
    }
    const table = document.createElement("table");
    table.className = "dash-heat";
    const head = table.createTHead().insertRow();
    head.append(document.createElement("th"));
    for (let hour = 0; hour < 24; hour += 1) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = String(hour).padStart(2, "0");
      head.append(th);
    }
    const body = table.createTBody();
    data.cells.forEach((hours, weekday) => {
      const row = body.insertRow();
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = labels.weekdays[weekday];
      row.append(th);
      hours.forEach((count, hour) => {
        const cell = row.insertCell();
        const level = count ? Math.max(1, Math.ceil((count / data.max) * 5)) : 0;
        cell.className = `heat-${level}`;
        if (count) {
          const link = document.createElement("a");
          link.href = consoleUrl({ status__exact: "skipped", weekhour: `${weekday}-${hour}` });
          link.textContent = String(count);
          link.title = `${labels.missed}: ${count}`;
          link.dataset.testid = `heat-${weekday}-${hour}`;
          cell.append(link);
        }
      });
    });
    container.append(table);
  }

  function sparkline(canvas, values, color, max) {
    draw(canvas, {
      type: "line",
      data: {
        labels: values.map((_, i) => i),
        datasets: [{ data: values, borderColor: color, borderWidth: 1.5, pointRadius: 0, spanGaps: true, fill: false }],
      },
      options: {
        responsive: false,
        plugins: { legend: { display: false }, tooltip: { enabled: false } },
        scales: { x: { display: false }, y: { display: false, min: 0, max } },
      },
    });
  }

  function loadOverview(api, labels) {
    const series = root.querySelector('[data-dash-chart="series"]');
    if (series && api.series) {
      track(
        getJson(api.series)
          .then((data) => {
            if (!data.points.some((p) => p.calls)) return stateOf(series, "empty", labels.no_data);
            stateOf(series, "ready");
            draw(series.querySelector("canvas"), seriesConfig(data.points, data.interval, labels, seriesDrill(data.interval)));
          })
          .catch(() => stateOf(series, "error", labels.error)),
      );
    }
    const sentiment = root.querySelector('[data-dash-chart="sentiment"]');
    const outcome = root.querySelector('[data-dash-chart="outcome"]');
    if (sentiment && outcome && api.mix) {
      track(
        getJson(api.mix)
          .then((data) => {
            doughnut(sentiment, data.sentiment, labels.sentiment, COLORS.sentiment, "sentiment", labels.no_data);
            doughnut(outcome, data.outcome, labels.outcome, COLORS.outcome, "outcome", labels.no_data);
          })
          .catch(() => {
            stateOf(sentiment, "error", labels.error);
            stateOf(outcome, "error", labels.error);
          }),
      );
    }
    const heat = root.querySelector("[data-dash-heatmap]");
    if (heat && api.heatmap) {
      track(
        getJson(api.heatmap)
          .then((data) => heatmap(heat, data, labels))
          .catch(() => stateOf(heat, "error", labels.error)),
      );
    }
  }

  function loadSparklines(api) {
    const canvases = root.querySelectorAll("[data-dash-sparkline]");
    if (!canvases.length || !api.leaderboard) return;
    track(
      getJson(api.leaderboard).then((data) => {
        const byOperator = new Map(data.rows.map((row) => [String(row.operator_id ?? "none"), row.sparkline]));
        canvases.forEach((canvas) => sparkline(canvas, byOperator.get(canvas.dataset.dashSparkline) || [], COLORS.line, 100));
      }),
    );
  }

  function loadItemTrends(api) {
    const canvases = root.querySelectorAll("[data-dash-item-trend]");
    if (!canvases.length || !api.items) return;
    track(
      getJson(api.items).then((data) => {
        const byItem = new Map(data.items.map((item) => [String(item.item_id), item.trend]));
        canvases.forEach((canvas) => sparkline(canvas, byItem.get(canvas.dataset.dashItemTrend) || [], COLORS.line, 1));
      }),
    );
  }

  function loadOperator(api, labels) {
    const trend = root.querySelector('[data-dash-chart="operator-trend"]');
    if (!trend || !api.operator) return;
    track(
      getJson(api.operator)
        .then((data) => {
          if (!data.trend.some((p) => p.calls)) return stateOf(trend, "empty", labels.no_data);
          stateOf(trend, "ready");
          draw(trend.querySelector("canvas"), seriesConfig(data.trend, data.interval, labels, null));
        })
        .catch(() => stateOf(trend, "error", labels.error)),
    );
  }

  function loadConversion(api, labels) {
    const chart = root.querySelector('[data-dash-chart="conversion"]');
    if (!chart) return;
    // With several operators the endpoint cannot pick the same calls (it takes one): draw the page's own figures.
    const source = api.conversion ? getJson(api.conversion) : Promise.resolve({ bands: readJson("dash-conversion") });
    track(
      source
        .then((data) => {
          stateOf(chart, "ready");
          draw(chart.querySelector("canvas"), {
            type: "bar",
            data: {
              labels: data.bands.map((band) => band.band),
              datasets: [
                {
                  label: labels.won_rate,
                  data: data.bands.map((band) => (band.won_rate === null ? null : Math.round(band.won_rate * 1000) / 10)),
                  backgroundColor: COLORS.bar,
                },
              ],
            },
            options: { maintainAspectRatio: false, scales: { y: { min: 0, max: 100 } } },
          });
        })
        .catch(() => stateOf(chart, "error", labels.error)),
    );
  }

  function load() {
    charts.forEach((chart) => chart.destroy());
    charts = [];
    window.dashCharts = charts;
    const api = readJson("dash-api");
    const labels = readJson("dash-labels");
    setReady(false);
    if (!window.Chart) {
      root.querySelectorAll("[data-dash-state]").forEach((state) => {
        state.textContent = labels.error || "";
        state.classList.add("is-error");
      });
      return;
    }
    loadOverview(api, labels);
    loadSparklines(api);
    loadItemTrends(api);
    loadOperator(api, labels);
    loadConversion(api, labels);
    if (pending === 0) setReady(true);
  }

  // --- filters: the URL is the state ---------------------------------------------------------------------------

  function filterUrl(form) {
    const params = new URLSearchParams();
    const custom = form.elements.period && form.elements.period.value === "custom";
    for (const [key, value] of new FormData(form)) {
      if (!value) continue;
      if (!custom && (key === "date_from" || key === "date_to")) continue;
      params.append(key, value);
    }
    const sort = new URLSearchParams(window.location.search).get("sort");
    if (sort) params.set("sort", sort);
    return `${window.location.pathname}?${params.toString()}`;
  }

  async function navigate(url, push) {
    root.setAttribute("aria-busy", "true");
    setReady(false);
    const focusedId = document.activeElement && document.activeElement.id;
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = page.querySelector("[data-dash]");
      if (!fresh) throw new Error("no dashboard in the answer");
      if (push) window.history.pushState({ dash: true }, "", url);
      root.replaceChildren(...fresh.childNodes);
      document.title = page.title;
      const next = document.querySelector('form.dlx-language input[name="next"]');
      if (next) next.value = `${window.location.pathname}${window.location.search}`;
      if (focusedId && document.getElementById(focusedId)) document.getElementById(focusedId).focus();
      load();
    } catch (error) {
      const body = root.querySelector("[data-dash-body]");
      const labels = readJson("dash-labels");
      const alert = document.createElement("div");
      alert.className = "dash-alert";
      alert.setAttribute("role", "alert");
      alert.textContent = labels.error || String(error);
      if (body) body.prepend(alert);
      setReady(true);
    } finally {
      root.removeAttribute("aria-busy");
    }
  }

  root.addEventListener("change", (event) => {
    const form = event.target.closest("[data-dash-filters]");
    if (!form) return;
    const custom = form.elements.period.value === "custom";
    form.querySelectorAll("[data-dash-custom]").forEach((field) => field.classList.toggle("is-hidden", !custom));
    if (custom && !(form.elements.date_from.value && form.elements.date_to.value)) return; // wait for both dates
    navigate(filterUrl(form), true);
  });

  root.addEventListener("submit", (event) => {
    const form = event.target;
    if (form.matches("[data-dash-filters]")) {
      event.preventDefault();
      navigate(filterUrl(form), true);
    } else if (form.matches("[data-dash-job]")) {
      event.preventDefault();
      startJob(form, event.submitter);
    }
  });

  root.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-dash-nav-link], a[data-dash-reset]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    navigate(link.href, true);
  });

  window.addEventListener("popstate", () => navigate(window.location.href, false));

  // --- background exports ---------------------------------------------------------------------------------------

  function showJob(form, job) {
    const box = form.querySelector("[data-dash-job-status]");
    const bar = box.querySelector("progress");
    const text = box.querySelector("[data-dash-job-text]");
    const link = box.querySelector("[data-dash-job-link]");
    box.classList.remove("is-hidden");
    box.dataset.status = job.status;
    if (job.progress === null) bar.removeAttribute("value");
    else bar.value = job.progress;
    const rows = job.rows_total ? ` ${job.rows_done} / ${job.rows_total}` : "";
    text.textContent = `${job.status_display}${rows}${job.error ? ` (${job.error})` : ""}`;
    link.classList.toggle("is-hidden", !job.download_url);
    if (job.download_url) link.href = job.download_url;
    if (job.status === "queued" || job.status === "running") {
      window.setTimeout(() => pollJob(form, job.status_url), 1000);
    }
  }

  async function pollJob(form, url) {
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      showJob(form, await response.json());
    } catch (error) {
      form.querySelector("[data-dash-job-text]").textContent = readJson("dash-labels").error || String(error);
    }
  }

  async function startJob(form, submitter) {
    const data = new FormData(form, submitter);
    const token = form.elements.csrfmiddlewaretoken ? form.elements.csrfmiddlewaretoken.value : "";
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { "X-CSRFToken": token, Accept: "application/json" },
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      showJob(form, await response.json());
    } catch (error) {
      const box = form.querySelector("[data-dash-job-status]");
      box.classList.remove("is-hidden");
      box.querySelector("[data-dash-job-text]").textContent = readJson("dash-labels").error || String(error);
    }
  }

  load();
})();
