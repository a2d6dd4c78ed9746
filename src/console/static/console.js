// loopwright console: the one script every page loads (served as a file: the CSP allows no inline
// script). It keeps ages ticking, asks before cancel/reject, and patches the page from the live
// event stream: cards move between columns, other pages re-render their main part, and a running
// agent's transcript grows. Everything it inserts was rendered (and escaped) by the server.
(() => {
  const body = document.body;
  const page = body.dataset.page;

  const formatAge = (ms) => {
    const s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return `${s}s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
    const h = Math.floor(m / 60);
    if (h < 24) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
    return `${Math.floor(h / 24)}d ${h % 24}h`;
  };
  const tick = () => {
    for (const el of document.querySelectorAll('[data-since]')) {
      const since = Date.parse(el.dataset.since || '');
      if (!Number.isNaN(since)) el.textContent = formatAge(Date.now() - since);
    }
  };
  setInterval(tick, 1000);

  document.addEventListener('click', (e) => {
    const button = e.target instanceof Element ? e.target.closest('button[data-confirm]') : null;
    if (button?.dataset.confirm && !window.confirm(button.dataset.confirm)) e.preventDefault();
  });
  for (const select of document.querySelectorAll('form.filters select'))
    select.addEventListener('change', () => select.form.submit());

  const debounce = (fn, ms) => {
    let timer = null;
    return () => {
      if (timer) return;
      timer = setTimeout(() => {
        timer = null;
        fn();
      }, ms);
    };
  };
  const fragment = (markup) => {
    const t = document.createElement('template');
    t.innerHTML = markup;
    return t.content.firstElementChild;
  };
  const fetchPage = async () => {
    const response = await fetch(location.href, {
      headers: { Accept: 'text/html' },
      credentials: 'same-origin',
    });
    if (!response.ok) return null;
    return new DOMParser().parseFromString(await response.text(), 'text/html');
  };

  // Board: move the card, then fetch fresh counts for this board's filters.
  const refreshCounts = debounce(async () => {
    const q = new URLSearchParams();
    if (body.dataset.repo) q.set('repo', body.dataset.repo);
    if (body.dataset.batch) q.set('batch', body.dataset.batch);
    const response = await fetch(`/board/counts?${q}`, { credentials: 'same-origin' });
    if (!response.ok) return;
    const counts = await response.json();
    let total = 0;
    for (const el of document.querySelectorAll('[data-count]')) {
      const n = counts[el.dataset.count] || 0;
      total += n;
      el.textContent = String(n);
      el.closest('.column')?.classList.toggle('empty', n === 0);
    }
    const totalEl = document.getElementById('total-count');
    if (totalEl) totalEl.textContent = String(total);
  }, 150);
  const onBoardTicket = (m) => {
    document.getElementById(`card-${m.key}`)?.remove();
    const mine =
      (!body.dataset.repo || body.dataset.repo === m.repo) &&
      (!body.dataset.batch || body.dataset.batch === (m.batch || ''));
    const column = document.querySelector(`.column[data-state="${CSS.escape(m.state)}"] .cards`);
    if (mine && column) {
      const card = fragment(m.html);
      if (card) column.prepend(card);
    }
    refreshCounts();
  };

  // Ticket page: re-render the document (unless the operator is typing in it), keep the tail going.
  let tail = null;
  const bindTranscript = () => {
    const pre = document.getElementById('transcript-tail');
    if (tail && (!pre || pre.dataset.run !== tail.run)) {
      tail.source.close();
      tail = null;
    }
    if (!pre || tail) {
      if (tail && pre) tail.pre = pre;
      return;
    }
    const key = encodeURIComponent(body.dataset.key);
    const run = encodeURIComponent(pre.dataset.run);
    const from = encodeURIComponent(pre.dataset.size || '0');
    const url = `/tickets/${key}/transcript?run=${run}&from=${from}`;
    const source = new EventSource(url);
    tail = { run: pre.dataset.run, source, pre };
    source.addEventListener('append', (e) => {
      const d = JSON.parse(e.data);
      const target = tail?.pre;
      if (!target) return;
      const text = (d.reset ? '' : target.textContent) + d.text;
      target.textContent = text.length > 65536 ? text.slice(-65536) : text;
      target.dataset.size = String(d.size);
      target.scrollTop = target.scrollHeight;
    });
    source.addEventListener('end', () => source.close());
  };
  const refreshTicket = debounce(async () => {
    const current = document.getElementById('ticket-doc');
    if (
      current?.contains(document.activeElement) &&
      document.activeElement.matches('input, textarea')
    ) {
      setTimeout(refreshTicket, 1000);
      return;
    }
    const next = (await fetchPage())?.getElementById('ticket-doc');
    if (!next || !current) return;
    const text = tail?.pre ? tail.pre.textContent : null;
    current.replaceWith(document.adoptNode(next));
    const pre = document.getElementById('transcript-tail');
    if (
      pre &&
      text !== null &&
      tail &&
      pre.dataset.run === tail.run &&
      text.length > pre.textContent.length
    ) {
      pre.textContent = text;
    }
    bindTranscript();
    tick();
  }, 100);
  const refreshMain = debounce(async () => {
    const main = document.getElementById('main');
    if (
      main?.contains(document.activeElement) &&
      document.activeElement.matches('input, textarea')
    ) {
      setTimeout(refreshMain, 1000);
      return;
    }
    const next = (await fetchPage())?.getElementById('main');
    if (next && main) main.replaceWith(document.adoptNode(next));
    tick();
  }, 250);

  const status = document.getElementById('live-status');
  const live = new EventSource('/events');
  live.addEventListener('hello', () => {
    status.textContent = 'live';
    status.classList.add('on');
  });
  live.addEventListener('error', () => {
    status.textContent = 'reconnecting';
    status.classList.remove('on');
  });
  live.addEventListener('ticket', (e) => {
    const m = JSON.parse(e.data);
    if (page === 'board') onBoardTicket(m);
    else if (page === 'ticket') {
      if (m.key === body.dataset.key) refreshTicket();
    } else if (page !== 'missing') refreshMain();
  });
  live.addEventListener('batch', () => {
    if (page === 'batch' || page === 'batches') refreshMain();
  });
  live.addEventListener('resync', () => {
    if (page === 'ticket') refreshTicket();
    else refreshMain();
  });
  if (page === 'ticket') bindTranscript();
})();
