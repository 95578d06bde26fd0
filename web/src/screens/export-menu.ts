// The Export menu: plain download links to the server's exports, so that the
// browser saves the file itself (and the server decides who may have it).
import './export-menu.css'
import { h } from '../dom'
import { t, type MessageKey } from '../i18n'

export const RESOLUTION_FORMATS = ['pdf', 'docx', 'html', 'md', 'txt', 'akn'] as const
export const MEETING_FORMATS = ['pdf', 'docx', 'html', 'zip'] as const
export type ExportFormat = (typeof RESOLUTION_FORMATS)[number] | (typeof MEETING_FORMATS)[number]

const FORMAT_LABELS: Record<ExportFormat, MessageKey> = {
  pdf: 'export.format.pdf',
  docx: 'export.format.docx',
  html: 'export.format.html',
  md: 'export.format.md',
  txt: 'export.format.txt',
  akn: 'export.format.akn',
  zip: 'export.format.zip',
}

/** `/api/resolutions/{id}/export?format=pdf[&version=N]`. */
export function resolutionExportUrl(resolution: string, format: ExportFormat, version?: number | null): string {
  const query = new URLSearchParams({ format })
  if (version != null) query.set('version', String(version))
  return `/api/resolutions/${encodeURIComponent(resolution)}/export?${query}`
}

/** `/api/meetings/{id}/export?format=zip`. */
export function meetingExportUrl(meeting: string, format: ExportFormat): string {
  return `/api/meetings/${encodeURIComponent(meeting)}/export?${new URLSearchParams({ format })}`
}

/**
 * A disclosure button with the download links under it (a `<details>`: it
 * opens with Enter or Space, and every link is reached with Tab).
 */
export function exportMenu(options: { links: { format: ExportFormat; href: string }[]; label?: string; note?: string }): HTMLDetailsElement {
  const menu = h(
    'details',
    { class: 'export-menu' },
    h('summary', { class: 'button quiet' }, options.label ?? t('export.button')),
    h(
      'div',
      { class: 'export-popover' },
      options.note ? h('p', { class: 'export-note' }, options.note) : null,
      h(
        'ul',
        { class: 'export-links', 'aria-label': options.label ?? t('export.button') },
        options.links.map(({ format, href }) =>
          h('li', {}, h('a', { href, download: '', 'data-format': format, rel: 'nofollow' }, t(FORMAT_LABELS[format]))),
        ),
      ),
    ),
  )
  // Esc closes it and gives the focus back to its button.
  menu.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && menu.open) {
      event.stopPropagation()
      menu.open = false
      menu.querySelector('summary')?.focus()
    }
  })
  return menu
}

/** The export menu of a resolution: the live text, or the version being viewed. */
export function resolutionExportMenu(resolution: string, version?: { number: number } | null): HTMLDetailsElement {
  return exportMenu({
    label: version ? t('export.buttonVersion', { number: version.number }) : t('export.button'),
    note: version ? t('export.noteVersion', { number: version.number }) : t('export.noteLive'),
    links: RESOLUTION_FORMATS.map((format) => ({ format, href: resolutionExportUrl(resolution, format, version?.number) })),
  })
}

/** The export menu of a meeting: its adopted resolutions together. */
export function meetingExportMenu(meeting: string): HTMLDetailsElement {
  return exportMenu({
    note: t('export.noteMeeting'),
    links: MEETING_FORMATS.map((format) => ({ format, href: meetingExportUrl(meeting, format) })),
  })
}
