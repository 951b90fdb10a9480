// diagonal serve's page: one WebSocket per stream. Binary messages are frames (12-byte header, then RGB8),
// text messages are JSON (started, chunk stats, switched, error, done). Frames are played at the video's
// frame rate from a small queue, since the engine makes them a chunk at a time.
'use strict';

const $ = (id) => document.getElementById(id);
const canvas = $('view');
const ctx = canvas.getContext('2d');
const HEADER = 12;

let ws = null;
let queue = [];
let player = null;
let clickedAt = 0;
let received = 0;
let info = null;

// For tests and curious people: what the view has shown so far.
window.diagonalView = { framesShown: 0, checksum: 0, switches: 0 };

function setState(state, text) {
  document.body.dataset.state = state;
  $('now').textContent = text;
  $('start').disabled = state === 'streaming' || state === 'connecting';
  $('switch').disabled = state !== 'streaming';
  $('stop').disabled = state !== 'streaming';
}

function log(text, cls) {
  const li = document.createElement('li');
  li.textContent = new Date().toLocaleTimeString() + '  ' + text;
  if (cls) li.className = cls;
  $('log').prepend(li);
}

function cacheRule() {
  return document.querySelector('input[name=cache]:checked').value;
}

function streamUrl() {
  const q = new URLSearchParams({
    prompt: $('prompt').value, seed: $('seed').value || '0', chunks: $('chunks').value || '1',
    cache: cacheRule(), realtime: '1',
  });
  return '/stream?' + q.toString();
}

function start() {
  if (ws) return;
  const path = streamUrl();
  queue = [];
  received = 0;
  $('frames').textContent = '0';
  clickedAt = performance.now();
  setState('connecting', 'connecting...');
  ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + path);
  ws.binaryType = 'arraybuffer';
  let opened = false;
  ws.onopen = () => { opened = true; };
  ws.onmessage = (ev) => (typeof ev.data === 'string' ? onText(JSON.parse(ev.data)) : onFrame(ev.data));
  ws.onclose = async (ev) => {
    ws = null;
    if (!opened) {
      // The browser hides why an upgrade failed; the same URL over plain HTTP says why.
      const why = await fetch(path).then((r) => r.json()).then((j) => j.error).catch(() => 'connection failed');
      setState('error', why);
      log(why, 'error');
      return;
    }
    if (document.body.dataset.state !== 'done') {
      setState('done', 'closed (' + ev.code + (ev.reason ? ': ' + ev.reason : '') + ')');
    }
  };
}

function onText(m) {
  switch (m.type) {
    case 'started':
      info = m;
      canvas.width = m.width;
      canvas.height = m.height;
      startPlayer(m.fps);
      setState('streaming', 'streaming "' + m.prompt + '"');
      log('started: ' + m.chunks + ' chunks, seed ' + m.seed);
      break;
    case 'chunk':
      $('fps').textContent = m.fps === null ? '-' : m.fps.toFixed(1);
      $('chunkMs').textContent = (m.ditMs + m.decodeMs).toFixed(0);
      $('nfe').textContent = m.nfe + ' / ' + m.nfeTotal;
      $('chunk').textContent = (m.chunk + 1) + ' / ' + m.chunks;
      break;
    case 'switched':
      window.diagonalView.switches++;
      setState('streaming', 'streaming "' + m.prompt + '"');
      log('prompt changed at chunk ' + (m.chunk + 1) + ' (cache: ' + m.cache + '): ' + m.prompt);
      break;
    case 'error':
      log(m.message, 'error');
      break;
    case 'done':
      setState('done', m.end + ': ' + m.frames + ' frames, ' + (m.fps === null ? '-' : m.fps.toFixed(1)) + ' frames/s');
      log(m.end + ' after ' + m.chunks + ' chunks');
      break;
  }
}

function onFrame(buf) {
  const view = new DataView(buf);
  const w = view.getUint16(8), h = view.getUint16(10);
  if (received === 0) {
    $('latency').textContent = (performance.now() - clickedAt).toFixed(0);
  }
  received++;
  $('frames').textContent = String(received);
  queue.push({ w, h, rgb: new Uint8Array(buf, HEADER) });
}

function startPlayer(fps) {
  clearInterval(player);
  player = setInterval(() => {
    // More than two chunks queued means the view fell behind: skip ahead rather than lag further.
    while (queue.length > 24) queue.shift();
    const f = queue.shift();
    if (f) draw(f);
    else if (!ws) clearInterval(player);
  }, 1000 / fps);
}

function draw(f) {
  const img = ctx.createImageData(f.w, f.h);
  let sum = 0;
  for (let i = 0, j = 0; i < f.rgb.length; i += 3, j += 4) {
    img.data[j] = f.rgb[i];
    img.data[j + 1] = f.rgb[i + 1];
    img.data[j + 2] = f.rgb[i + 2];
    img.data[j + 3] = 255;
    sum = (sum * 31 + f.rgb[i] + 7 * f.rgb[i + 1] + 13 * f.rgb[i + 2]) >>> 0;
  }
  ctx.putImageData(img, 0, 0);
  window.diagonalView.framesShown++;
  window.diagonalView.checksum = sum;
}

$('form').addEventListener('submit', (e) => { e.preventDefault(); start(); });
$('switch').addEventListener('click', () => {
  if (ws) ws.send(JSON.stringify({ type: 'prompt', prompt: $('prompt').value, cache: cacheRule() }));
});
$('stop').addEventListener('click', () => { if (ws) ws.send(JSON.stringify({ type: 'stop' })); });
fetch('/status').then((r) => r.json()).then((s) => {
  $('model').textContent = 'model ' + s.model + ': ' + s.width + 'x' + s.height + ' at ' + s.fps
    + ' fps, streamed chunk by chunk; ' + s.active + ' of ' + s.maxStreams + ' streams running';
}).catch(() => {});
