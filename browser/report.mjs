// Opens a nadir report in headless Chromium and checks it as a reader would meet it: the page
// loads with no console error and no request beyond the file itself, every figure has a
// caption and holds charts that are drawn (a visible size, and data marks, the elements of
// class `marks`, with a non-empty extent), every link of the table of contents lands on an
// element. Then, in a window 1,400 and 800 px wide, its layout: nothing makes the page
// scroll sideways, every table fits its column at 1,400 px (at 800 px a table may scroll
// inside its own box), no chart label is cut at its chart's edge, every confusion-matrix
// label fits its cell, and the contents number each section's figures 1, 2, 3… under the
// section's number, as the captions do. Saves a full-page screenshot at each width.
//
// usage: node browser/report.mjs REPORT.html SCREENSHOT_DIR
// Writes SCREENSHOT_DIR/report-1400.png and report-800.png; prints one JSON line
// {figures, charts, marks, ids, problems}; exits 1 when there is a problem.
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { STEP_TIMEOUT_MS, launch } from './launch.mjs';

const [file, screenshots] = process.argv.slice(2);
if (!file || !screenshots) {
  console.error('usage: node browser/report.mjs REPORT.html SCREENSHOT_DIR');
  process.exit(2);
}
/** Window widths the layout is checked at: a laptop's, and a narrow window's. */
const WIDTHS = [1400, 800];
/** Width at and above which no table may need to scroll. */
const DESKTOP = 1400;
const url = pathToFileURL(file).href;
const problems = [];
const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: WIDTHS[0], height: 1000 } });
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
  problems.push(...(await page.evaluate(contentsNumbering)));

  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 1000 });
    const found = await page.evaluate(layout, { mayScroll: width < DESKTOP });
    problems.push(...found.map((p) => `at ${width} px: ${p}`));
    await page.screenshot({ path: path.join(screenshots, `report-${width}.png`), fullPage: true });
  }
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

/** In the page: the contents' sub-items of section n read "n.1", "n.2", … in order, and
 * the caption of the figure each links to starts with "Figure n.k.". */
function contentsNumbering() {
  const found = [];
  const sections = document.querySelectorAll('nav.toc > ol > li');
  sections.forEach((section, s) => {
    section.querySelectorAll(':scope > ol > li > a').forEach((link, f) => {
      const number = `${s + 1}.${f + 1}`;
      const text = link.textContent.trim();
      if (!text.startsWith(`${number} `)) {
        found.push(`contents item "${text}" should be numbered ${number}`);
      }
      const caption = document
        .getElementById(link.getAttribute('href').slice(1))
        ?.querySelector('figcaption')
        ?.textContent.trim();
      if (caption && !caption.startsWith(`Figure ${number}.`)) {
        found.push(`the caption of contents item ${number} reads "${caption.slice(0, 40)}…"`);
      }
    });
  });
  if (sections.length === 0) found.push('the contents list no section');
  return found;
}

/** In the page, at the current width: what sticks out. `mayScroll`: a table may scroll
 * sideways inside its own box (narrow windows), rather than fit its column. */
function layout({ mayScroll }) {
  const found = [];
  const page = document.documentElement;
  if (page.scrollWidth > page.clientWidth) {
    found.push(`the page is ${page.scrollWidth} px wide in a ${page.clientWidth} px window`);
  }
  const where = (el) => el.closest('section')?.id ?? 'the page';
  document.querySelectorAll('main table').forEach((table) => {
    const box = table.parentElement;
    const scrolls = getComputedStyle(box).overflowX === 'auto';
    const heading = [...table.querySelectorAll('th')].map((th) => th.textContent).join(', ');
    if (table.getBoundingClientRect().right > page.clientWidth + 0.5 && !scrolls) {
      found.push(`a table of #${where(table)} (${heading}) runs past the window`);
    } else if (box.scrollWidth > box.clientWidth + 0.5 && !mayScroll) {
      found.push(
        `a table of #${where(table)} (${heading}) is ${box.scrollWidth} px wide in a ${box.clientWidth} px column`,
      );
    }
  });
  const inside = (inner, outer) =>
    inner.left >= outer.left - 0.5 &&
    inner.right <= outer.right + 0.5 &&
    inner.top >= outer.top - 0.5 &&
    inner.bottom <= outer.bottom + 0.5;
  document.querySelectorAll('figure svg').forEach((svg) => {
    const chart = svg.getBoundingClientRect();
    for (const text of svg.querySelectorAll('text')) {
      const box = text.getBoundingClientRect();
      if (box.width > 0 && !inside(box, chart)) {
        found.push(`figure #${svg.closest('figure').id}: the label "${text.textContent}" is cut at its chart's edge`);
      }
    }
  });
  document.querySelectorAll('#confusion svg').forEach((svg) => {
    const cells = [...svg.querySelectorAll('.marks rect')].map((r) => r.getBoundingClientRect());
    for (const text of svg.querySelectorAll('text.cell')) {
      const box = text.getBoundingClientRect();
      if (!cells.some((cell) => inside(box, cell))) {
        found.push(`figure #confusion: the label "${text.textContent}" spills out of its cell`);
      }
    }
    if (svg.querySelectorAll('text.cell').length !== cells.length) {
      found.push(`figure #confusion: ${cells.length} cells but not as many labels of class "cell"`);
    }
  });
  return found;
}
