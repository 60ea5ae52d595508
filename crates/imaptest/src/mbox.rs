//! Reading an mbox file: messages split at `From ` lines, each with the INTERNALDATE its
//! `From ` line carries (asctime, optionally followed by a zone), bodies in CRLF form.
use anyhow::{Context, Result};
use std::path::Path;

/// One message from an mbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `dd-Mon-yyyy hh:mm:ss +zzzz`, when the `From ` line has a date.
    pub internaldate: Option<String>,
    /// The message, every line ending in CRLF.
    pub data: Vec<u8>,
}

/// Reads and splits an mbox file.
pub fn read(path: &Path) -> Result<Vec<Message>> {
    let data = std::fs::read(path).with_context(|| format!("mbox {}", path.display()))?;
    Ok(split(&data))
}

/// Bare LF → CRLF (CRLF stays).
pub fn crlf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 32);
    for (i, &b) in data.iter().enumerate() {
        if b == b'\n' && (i == 0 || data[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

/// Splits mbox bytes into messages.
pub fn split(data: &[u8]) -> Vec<Message> {
    let mut out = Vec::new();
    let mut current: Option<(Option<String>, usize)> = None;
    let mut pos = 0;
    while pos < data.len() {
        let end = data[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|i| pos + i + 1)
            .unwrap_or(data.len());
        let line = &data[pos..end];
        if line.starts_with(b"From ") {
            if let Some((date, start)) = current.take() {
                out.push(Message {
                    internaldate: date,
                    data: crlf(&data[start..pos]),
                });
            }
            current = Some((from_line_date(line), end));
        } else if current.is_none() {
            // no From_ line first: the file is one message
            current = Some((None, pos));
        }
        pos = end;
    }
    if let Some((date, start)) = current {
        out.push(Message {
            internaldate: date,
            data: crlf(&data[start..]),
        });
    }
    out
}

/// `From user  Sat Mar 24 23:00:00 2007 [+0200]` → `24-Mar-2007 23:00:00 +0200`.
fn from_line_date(line: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(line);
    let words: Vec<&str> = text.split_whitespace().collect();
    // find the weekday/month/day/time/year run
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let i = words.iter().position(|w| months.contains(w))?;
    let (mon, day, time, year) = (
        words[i],
        words.get(i + 1)?,
        words.get(i + 2)?,
        words.get(i + 3)?,
    );
    let day: u32 = day.parse().ok()?;
    if time.len() != 8 || year.len() != 4 || !year.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let zone = words
        .get(i + 4)
        .filter(|z| z.len() == 5 && (z.starts_with('+') || z.starts_with('-')))
        .copied()
        .unwrap_or("+0000");
    Some(format!("{day:02}-{mon}-{year} {time} {zone}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_dates() {
        let m = split(b"From a  Sat Mar 24 23:00:00 2007 +0200\nSubject: 1\n\nbody\n\nFrom b  Fri Feb 22 17:06:23 2008\nSubject: 2\n\nx\n");
        assert_eq!(m.len(), 2);
        assert_eq!(
            m[0].internaldate.as_deref(),
            Some("24-Mar-2007 23:00:00 +0200")
        );
        assert_eq!(m[0].data, b"Subject: 1\r\n\r\nbody\r\n\r\n");
        assert_eq!(
            m[1].internaldate.as_deref(),
            Some("22-Feb-2008 17:06:23 +0000")
        );
        assert_eq!(m[1].data, b"Subject: 2\r\n\r\nx\r\n");
        assert_eq!(split(b"Subject: only\r\n\r\nb\r\n").len(), 1);
        assert!(split(b"").is_empty());
    }
}
