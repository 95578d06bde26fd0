//! Collections: a meeting's adopted resolutions together (one Markdown,
//! text, HTML, PDF or DOCX file, or a zip with every format of each), and
//! the compilation of the amendments to a resolution.

use std::io::Write;

use zip::write::SimpleFileOptions;

use super::{
    Compilation, ExportError, Format, MeetingCollection, docx, file_safe, html, labels, markdown,
    pdf, render_resolution, text,
};

/// A meeting's adopted resolutions in `format`.
pub fn render_meeting(
    collection: &MeetingCollection,
    format: Format,
) -> Result<Vec<u8>, ExportError> {
    match format {
        Format::Md => Ok(markdown::meeting(collection).into_bytes()),
        Format::Txt => Ok(text::meeting(collection).into_bytes()),
        Format::Html => Ok(html::meeting(collection).into_bytes()),
        Format::Pdf => pdf::meeting(collection),
        Format::Docx => docx::render(
            &collection.resolutions,
            Some((
                &collection.meeting.line(collection.language),
                collection.language,
            )),
        ),
        Format::Zip => zip(collection),
        Format::Akn => Err(ExportError::Unsupported(
            "Akoma Ntoso is one document per resolution: export each resolution with format=akn, or the meeting with format=zip (which holds every resolution's .akn.xml)".into(),
        )),
    }
}

/// Every format of each adopted resolution, one folder per resolution
/// (`01 Title/01 Title.pdf` …), and the meeting's combined PDF.
pub fn zip(collection: &MeetingCollection) -> Result<Vec<u8>, ExportError> {
    let failed = |error: &dyn std::fmt::Display| ExportError::render(Format::Zip, error);
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (index, resolution) in collection.resolutions.iter().enumerate() {
        let stem = file_safe(&format!("{:02} {}", index + 1, resolution.title));
        for format in [
            Format::Pdf,
            Format::Docx,
            Format::Html,
            Format::Md,
            Format::Txt,
            Format::Akn,
        ] {
            let bytes = render_resolution(resolution, format)?;
            // PDF and DOCX are compressed already.
            let options = if matches!(format, Format::Pdf | Format::Docx) {
                stored
            } else {
                options
            };
            writer
                .start_file(format!("{stem}/{stem}.{}", format.extension()), options)
                .map_err(|e| failed(&e))?;
            writer.write_all(&bytes).map_err(|e| failed(&e))?;
        }
    }
    let all = pdf::meeting(collection)?;
    let name = file_safe(&format!(
        "{} — {}",
        collection.meeting.title,
        labels(collection.language).adopted_resolutions
    ));
    writer
        .start_file(format!("{name}.pdf"), stored)
        .map_err(|e| failed(&e))?;
    writer.write_all(&all).map_err(|e| failed(&e))?;
    let cursor = writer.finish().map_err(|e| failed(&e))?;
    Ok(cursor.into_inner())
}

/// The compilation of amendments in `format`.
pub fn render_compilation(
    compilation: &Compilation,
    format: Format,
) -> Result<Vec<u8>, ExportError> {
    match format {
        Format::Md => Ok(markdown::compilation(compilation).into_bytes()),
        Format::Txt => Ok(text::compilation(compilation).into_bytes()),
        Format::Html => Ok(html::compilation(compilation).into_bytes()),
        Format::Pdf => pdf::compilation(compilation),
        Format::Docx => docx::compilation(compilation),
        Format::Akn | Format::Zip => Err(ExportError::Unsupported(format!(
            "the compilation of amendments is offered as md, txt, html, pdf or docx, not {}",
            format.name()
        ))),
    }
}
