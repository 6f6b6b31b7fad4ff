// Opens a nadir report in headless Chromium and checks it as a reader would meet it: the page
// loads with no console error and no request beyond the file itself, every figure has a
// caption and holds charts that are drawn (a visible size, and data marks, the elements of
// class `marks`, with a non-empty extent), every link of the table of contents lands on an
// element; then saves a full-page screenshot.
//
// usage: node browser/report.mjs REPORT.html SCREENSHOT.png
// Prints one JSON line {figures, charts, marks, problems}; exits 1 when there is a problem.
import { pathToFileURL } from 'node:url';
import { STEP_TIMEOUT_MS, launch } from './launch.mjs';

const [file, screenshot] = process.argv.slice(2);
if (!file || !screenshot) {
  console.error('usage: node browser/report.mjs REPORT.html SCREENSHOT.png');
  process.exit(2);
}
const url = pathToFileURL(file).href;
const problems = [];
const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e}`));
  page.on('request', (r) => {
    if (r.url() !== url) problems.push(`the page requested ${r.url()}`);
  });
  await page.goto(url, { waitUntil: 'load' });

  const figures = await page.$$eval('figure', (figs) =>
    figs.map((figure) => ({
      id: figure.id,
      caption: (figure.querySelector('figcaption')?.textContent ?? '').trim().length,
      charts: [...figure.querySelectorAll('svg')].map((svg) => {
        const box = svg.getBoundingClientRect();
        // Elements drawing data carry the class `marks`; count the shapes they draw that
        // have an extent (a path's subpaths, a group's children).
        let marks = 0;
        for (const el of svg.querySelectorAll('.marks')) {
          const b = el.getBBox();
          if (!(b.width > 0 || b.height > 0)) continue;
          if (el.tagName === 'g') marks += el.children.length;
          else if (el.tagName === 'path') marks += (el.getAttribute('d').match(/M/g) || []).length;
          else marks += 1;
        }
        return { width: box.width, height: box.height, marks };
      }),
    })),
  );
  if (figures.length === 0) problems.push('the page has no figure');
  for (const f of figures) {
    if (!f.id) problems.push('a figure has no id');
    if (f.caption < 20) problems.push(`figure ${f.id} has no caption`);
    if (f.charts.length === 0) problems.push(`figure ${f.id} holds no chart`);
    f.charts.forEach((c, i) => {
      if (!(c.width > 50 && c.height > 50)) {
        problems.push(`figure ${f.id} chart ${i} is ${c.width}×${c.height} px`);
      }
      if (c.marks < 1) problems.push(`figure ${f.id} chart ${i} draws no data`);
    });
  }
  const broken = await page.$$eval('nav a[href^="#"]', (links) =>
    links.map((a) => a.getAttribute('href').slice(1)).filter((id) => !document.getElementById(id)),
  );
  for (const id of broken) problems.push(`the contents link #${id} leads nowhere`);

  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(
    JSON.stringify({
      figures: figures.length,
      charts: figures.reduce((n, f) => n + f.charts.length, 0),
      marks: figures.reduce((n, f) => n + f.charts.reduce((m, c) => m + c.marks, 0), 0),
      ids: figures.map((f) => f.id),
      problems,
    }),
  );
} finally {
  await browser.close();
}
process.exit(problems.length === 0 ? 0 : 1);
