/**
 * A small, dependency-free XML parser (elements, attributes, text, the XML declaration,
 * comments and CDATA) and the check of the common JUnit XML schema shape that CI systems read:
 * testsuites > testsuite[name,tests,failures,errors,time] > testcase[name,classname,time] > failure[message].
 * Strict on well-formedness: a mismatched tag, an unescaped "<" or "&", or a duplicate attribute throws.
 */

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(s: string, where: number): string {
  return s.replace(/&([^;]*);|&/g, (m, name: string | undefined) => {
    if (name === undefined) throw new Error(`bare "&" near offset ${where}`);
    if (name in ENTITIES) return ENTITIES[name];
    const num = /^#(x[0-9a-fA-F]+|[0-9]+)$/.exec(name);
    if (num) return String.fromCodePoint(num[1][0] === 'x' ? parseInt(num[1].slice(1), 16) : parseInt(num[1], 10));
    throw new Error(`unknown entity ${m} near offset ${where}`);
  });
}

export function parseXml(xml: string): XmlElement {
  let i = 0;
  const root: XmlElement = { name: '#document', attrs: {}, children: [], text: '' };
  const stack: XmlElement[] = [root];
  const NAME = /[A-Za-z_][\w.:-]*/y;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const textEnd = lt === -1 ? xml.length : lt;
    const text = xml.slice(i, textEnd);
    if (text.length) {
      stack[stack.length - 1].text += decode(text, i);
    }
    if (lt === -1) break;
    i = lt;
    if (xml.startsWith('<?', i)) {
      const end = xml.indexOf('?>', i);
      if (end < 0) throw new Error('unterminated processing instruction');
      if (i !== 0 && xml.slice(i, i + 5) === '<?xml') throw new Error('XML declaration not at the start');
      i = end + 2;
    } else if (xml.startsWith('<!--', i)) {
      const end = xml.indexOf('-->', i);
      if (end < 0) throw new Error('unterminated comment');
      i = end + 3;
    } else if (xml.startsWith('<![CDATA[', i)) {
      const end = xml.indexOf(']]>', i);
      if (end < 0) throw new Error('unterminated CDATA');
      stack[stack.length - 1].text += xml.slice(i + 9, end);
      i = end + 3;
    } else if (xml.startsWith('</', i)) {
      NAME.lastIndex = i + 2;
      const m = NAME.exec(xml);
      if (!m) throw new Error(`bad closing tag at ${i}`);
      const open = stack.pop();
      if (!open || open.name !== m[0]) throw new Error(`closing </${m[0]}> does not match <${open?.name}> at ${i}`);
      const gt = xml.indexOf('>', NAME.lastIndex);
      if (xml.slice(NAME.lastIndex, gt).trim() !== '') throw new Error(`junk in closing tag at ${i}`);
      i = gt + 1;
    } else {
      NAME.lastIndex = i + 1;
      const m = NAME.exec(xml);
      if (!m) throw new Error(`unescaped "<" at offset ${i}`);
      const el: XmlElement = { name: m[0], attrs: {}, children: [], text: '' };
      let j = NAME.lastIndex;
      const ATTR = /\s+([A-Za-z_][\w.:-]*)\s*=\s*("([^"<]*)"|'([^'<]*)')/y;
      for (;;) {
        ATTR.lastIndex = j;
        const a = ATTR.exec(xml);
        if (!a) break;
        if (a[1] in el.attrs) throw new Error(`duplicate attribute ${a[1]} on <${el.name}>`);
        el.attrs[a[1]] = decode(a[3] ?? a[4], j);
        j = ATTR.lastIndex;
      }
      const rest = /\s*(\/?)>/y;
      rest.lastIndex = j;
      const r = rest.exec(xml);
      if (!r) throw new Error(`malformed tag <${el.name}> at ${i}`);
      stack[stack.length - 1].children.push(el);
      if (!r[1]) stack.push(el);
      i = rest.lastIndex;
    }
  }
  if (stack.length !== 1) throw new Error(`unclosed <${stack[stack.length - 1].name}>`);
  if (root.text.trim() !== '') throw new Error('text outside the root element');
  if (root.children.length !== 1) throw new Error(`expected one root element, found ${root.children.length}`);
  return root.children[0];
}

const NUM = /^\d+$/;
const TIME = /^\d+(\.\d+)?$/;

/** Problems with the JUnit shape; empty when the document is fine. */
export function junitShapeErrors(xml: string): string[] {
  const errors: string[] = [];
  let root: XmlElement;
  try {
    root = parseXml(xml);
  } catch (err) {
    return [`not well-formed XML: ${(err as Error).message}`];
  }
  const need = (el: XmlElement, attr: string, re?: RegExp): void => {
    const v = el.attrs[attr];
    if (v === undefined) errors.push(`<${el.name}${el.attrs.name ? ` name="${el.attrs.name}"` : ''}> lacks ${attr}`);
    else if (re && !re.test(v)) errors.push(`<${el.name}> ${attr}="${v}" is not ${re}`);
  };
  if (root.name !== 'testsuites') return [`root is <${root.name}>, expected <testsuites>`];
  const suites = root.children.filter((c) => c.name === 'testsuite');
  if (suites.length === 0) errors.push('no <testsuite>');
  for (const c of root.children) if (c.name !== 'testsuite' && c.name !== 'properties') errors.push(`unexpected <${c.name}> in <testsuites>`);
  let total = 0;
  let totalFailures = 0;
  for (const s of suites) {
    need(s, 'name');
    need(s, 'tests', NUM);
    need(s, 'failures', NUM);
    need(s, 'errors', NUM);
    need(s, 'time', TIME);
    const cases = s.children.filter((c) => c.name === 'testcase');
    for (const c of s.children) if (!['testcase', 'properties', 'system-out', 'system-err'].includes(c.name)) errors.push(`unexpected <${c.name}> in <testsuite>`);
    for (const p of s.children.filter((c) => c.name === 'properties')) {
      for (const prop of p.children) {
        if (prop.name !== 'property') errors.push(`unexpected <${prop.name}> in <properties>`);
        need(prop, 'name');
        need(prop, 'value');
      }
    }
    let failures = 0;
    for (const tc of cases) {
      need(tc, 'name');
      need(tc, 'classname');
      need(tc, 'time', TIME);
      for (const c of tc.children) {
        if (!['failure', 'error', 'skipped', 'system-out', 'system-err'].includes(c.name)) errors.push(`unexpected <${c.name}> in <testcase>`);
        if (c.name === 'failure') {
          failures++;
          need(c, 'message');
        }
      }
    }
    if (Number(s.attrs.tests) !== cases.length) errors.push(`testsuite "${s.attrs.name}" says tests=${s.attrs.tests} but has ${cases.length} testcases`);
    if (Number(s.attrs.failures) !== failures) errors.push(`testsuite "${s.attrs.name}" says failures=${s.attrs.failures} but has ${failures}`);
    total += cases.length;
    totalFailures += failures;
  }
  if (root.attrs.tests !== undefined && Number(root.attrs.tests) !== total) errors.push(`testsuites says tests=${root.attrs.tests} but has ${total}`);
  if (root.attrs.failures !== undefined && Number(root.attrs.failures) !== totalFailures) errors.push(`testsuites says failures=${root.attrs.failures} but has ${totalFailures}`);
  return errors;
}
