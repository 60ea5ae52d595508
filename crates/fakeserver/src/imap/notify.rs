//! NOTIFY (RFC 5465), pure: the `NOTIFY SET …` / `NOTIFY NONE` arguments → a [`Spec`], and a
//! mailbox's [`Snap`] before and after → the unsolicited STATUS / LIST lines a session owes
//! its client. The handler keeps the snapshots and decides when it may speak.

use super::daemon::{Account, Mailbox, DELIM};
use super::handler::{mailbox_in, mailbox_out};
use super::parse::{astring, Att};
use imapwire::Value;
use std::collections::BTreeMap;

/// The events of one filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Events {
    /// MessageNew. RFC 5465 asks for it together with MessageExpunge; as Dovecot does, that
    /// is enforced for SELECTED only, and the other filters may have either alone.
    pub new: bool,
    /// MessageExpunge.
    pub expunge: bool,
    pub flags: bool,
    pub mailbox_name: bool,
    pub subscription: bool,
    /// `MessageNew (fetch-att …)`: what a FETCH for each new message in the selected mailbox
    /// carries.
    pub new_fetch: Option<Vec<Att>>,
}

impl Events {
    /// Whether any message event (new or expunged) is asked for.
    pub fn messages(&self) -> bool {
        self.new || self.expunge
    }
}

/// Which mailboxes a filter covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    Selected { delayed: bool },
    Inboxes,
    Personal,
    Subscribed,
    Subtree(Vec<String>),
    Mailboxes(Vec<String>),
}

/// An active `NOTIFY SET`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spec {
    /// The STATUS indicator: STATUS for every covered mailbox at once.
    pub status: bool,
    pub groups: Vec<(Filter, Events)>,
}

/// Why a NOTIFY command is refused: BAD (syntax) or NO with a response code.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    Bad(String),
    No(String),
}

/// `NOTIFY NONE` → `Ok(None)`, `NOTIFY SET …` → the spec.
pub fn parse(args: &[Value], utf8: bool) -> Result<Option<Spec>, Refusal> {
    let bad = |s: &str| Refusal::Bad(s.to_string());
    let first = args
        .first()
        .ok_or_else(|| bad("NOTIFY needs NONE or SET"))?;
    if first.is_atom("NONE") {
        return if args.len() == 1 {
            Ok(None)
        } else {
            Err(bad("Junk after NOTIFY NONE"))
        };
    }
    if !first.is_atom("SET") {
        return Err(bad("NOTIFY needs NONE or SET"));
    }
    let mut spec = Spec::default();
    let mut rest = &args[1..];
    if rest.first().is_some_and(|v| v.is_atom("STATUS")) {
        spec.status = true;
        rest = &rest[1..];
    }
    if rest.is_empty() {
        return Err(bad("NOTIFY SET needs event groups"));
    }
    let mut bad_events = Vec::new();
    for g in rest {
        let items = g.items().ok_or_else(|| bad("Invalid event group"))?;
        let (filter, evs) = match items {
            [f, evs] if f.is_atom("SELECTED") => (Filter::Selected { delayed: false }, evs),
            [f, evs] if f.is_atom("SELECTED-DELAYED") => (Filter::Selected { delayed: true }, evs),
            [f, evs] if f.is_atom("INBOXES") => (Filter::Inboxes, evs),
            [f, evs] if f.is_atom("PERSONAL") => (Filter::Personal, evs),
            [f, evs] if f.is_atom("SUBSCRIBED") => (Filter::Subscribed, evs),
            [f, m, evs] if f.is_atom("SUBTREE") => (Filter::Subtree(names(m, utf8)?), evs),
            [f, m, evs] if f.is_atom("MAILBOXES") => (Filter::Mailboxes(names(m, utf8)?), evs),
            _ => return Err(bad("Invalid filter in event group")),
        };
        let events = if evs.is_atom("NONE") {
            Events::default()
        } else {
            let list = evs.items().ok_or_else(|| bad("Invalid event list"))?;
            events(list, &mut bad_events)?
        };
        let selected = matches!(filter, Filter::Selected { .. });
        // The selected mailbox's EXISTS and EXPUNGE go together (Dovecot: BAD as well).
        if selected && events.new != events.expunge {
            return Err(bad("MessageNew and MessageExpunge go together"));
        }
        if selected && events.flags && !events.new {
            return Err(bad("FlagChange needs MessageNew and MessageExpunge"));
        }
        if selected && (events.mailbox_name || events.subscription) {
            return Err(bad("Only message events apply to SELECTED"));
        }
        if !selected && events.new_fetch.is_some() {
            return Err(bad("MessageNew fetch attributes apply to SELECTED only"));
        }
        spec.groups.push((filter, events));
    }
    if !bad_events.is_empty() {
        return Err(Refusal::No(format!(
            "[BADEVENT ({})] Unsupported event",
            bad_events.join(" ")
        )));
    }
    Ok(Some(spec))
}

fn names(v: &Value, utf8: bool) -> Result<Vec<String>, Refusal> {
    let list: Vec<String> = match v.items() {
        Some(items) => items.iter().filter_map(astring).collect(),
        None => astring(v).into_iter().collect(),
    };
    if list.is_empty() {
        return Err(Refusal::Bad("Invalid mailbox list".into()));
    }
    list.iter()
        .map(|n| mailbox_in(utf8, n).map_err(Refusal::No))
        .collect()
}

fn events(list: &[Value], unknown: &mut Vec<String>) -> Result<Events, Refusal> {
    let mut e = Events::default();
    let mut i = 0;
    while i < list.len() {
        let w = list[i].text().unwrap_or_default().to_ascii_uppercase();
        match w.as_str() {
            "MESSAGENEW" => {
                e.new = true;
                // Optional fetch attributes for the FETCH sent with a new message.
                if let Some(v @ Value::List(_)) = list.get(i + 1) {
                    let atts = super::parse::fetch_atts(v).map_err(Refusal::Bad)?;
                    e.new_fetch = Some(atts);
                    i += 1;
                }
            }
            "MESSAGEEXPUNGE" => e.expunge = true,
            "FLAGCHANGE" => e.flags = true,
            "MAILBOXNAME" => e.mailbox_name = true,
            "SUBSCRIPTIONCHANGE" => e.subscription = true,
            _ => unknown.push(w),
        }
        i += 1;
    }
    Ok(e)
}

impl Spec {
    /// The events that apply to a mailbox other than the selected one.
    pub fn events_for(&self, name: &str, acct: &Account) -> Events {
        let mut out = Events::default();
        for (f, e) in &self.groups {
            let hit = match f {
                Filter::Selected { .. } => false,
                Filter::Inboxes => name == "INBOX",
                Filter::Personal => true,
                Filter::Subscribed => acct.subscribed.contains(name),
                Filter::Subtree(roots) => roots.iter().any(|r| {
                    name == r
                        || name
                            .strip_prefix(r.as_str())
                            .is_some_and(|t| t.starts_with(DELIM))
                }),
                Filter::Mailboxes(list) => list.iter().any(|m| m == name),
            };
            // The first filter that names a mailbox decides (RFC 5465 section 6).
            if hit {
                out = e.clone();
                break;
            }
        }
        out
    }

    /// Whether the selected mailbox's changes are wanted (SELECTED given, or no filter for it).
    pub fn selected_events(&self) -> Option<&Events> {
        self.groups
            .iter()
            .find(|(f, _)| matches!(f, Filter::Selected { .. }))
            .map(|(_, e)| e)
    }

    /// Whether any filter asks for mailbox name or subscription changes.
    pub fn wants_names(&self) -> bool {
        self.groups
            .iter()
            .any(|(_, e)| e.mailbox_name || e.subscription)
    }
}

/// What a session last told its client about a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snap {
    pub uidvalidity: u32,
    pub messages: usize,
    pub uidnext: u32,
    pub unseen: usize,
    pub highest_modseq: u64,
}

impl Snap {
    pub fn of(mb: &Mailbox) -> Snap {
        Snap {
            uidvalidity: mb.uidvalidity,
            messages: mb.messages.len(),
            uidnext: mb.uidnext,
            unseen: mb.unseen(),
            highest_modseq: mb.highest_modseq,
        }
    }

    /// The STATUS items for these events: MESSAGES UIDNEXT UIDVALIDITY for message events,
    /// UNSEEN and HIGHESTMODSEQ too for flag changes (the full list: the STATUS indicator).
    pub fn items(&self, e: &Events, all: bool) -> String {
        let mut v = Vec::new();
        if e.messages() {
            v.push(format!("MESSAGES {}", self.messages));
            v.push(format!("UIDNEXT {}", self.uidnext));
            v.push(format!("UIDVALIDITY {}", self.uidvalidity));
        }
        if e.flags {
            if !all {
                v.push(format!("UNSEEN {}", self.unseen));
            }
            v.push(format!("HIGHESTMODSEQ {}", self.highest_modseq));
        }
        v.join(" ")
    }
}

/// The STATUS a change from `old` to `new` calls for, if the events want it: MessageNew for
/// arrivals, MessageExpunge for expunges (both for a new UIDVALIDITY), FlagChange for flag
/// changes and any message change.
pub fn status_change(old: &Snap, new: &Snap, e: &Events) -> Option<String> {
    let renewed = old.uidvalidity != new.uidvalidity;
    let arrived = new.uidnext.saturating_sub(old.uidnext) as usize;
    let expunged = renewed || old.messages + arrived > new.messages;
    let arrived = renewed || arrived > 0;
    let flags = old.unseen != new.unseen || old.highest_modseq != new.highest_modseq;
    let mut want = Events::default();
    if (e.new && arrived) || (e.expunge && expunged) {
        (want.new, want.expunge) = (e.new, e.expunge);
    }
    if e.flags && (flags || arrived || expunged) {
        want.flags = true;
        (want.new, want.expunge) = (e.new, e.expunge);
    }
    let items = new.items(&want, false);
    (!items.is_empty()).then_some(items)
}

/// LIST lines for mailboxes created (`()`), deleted (`(\NonExistent)`) or whose subscription
/// changed, between two name → subscribed maps.
pub fn name_changes(
    old: &BTreeMap<String, bool>,
    new: &BTreeMap<String, bool>,
    e: &dyn Fn(&str) -> Events,
    utf8: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    let quote = |n: &str| mailbox_out(utf8, n);
    for (n, sub) in new {
        let ev = e(n);
        let attrs = if *sub { "\\Subscribed" } else { "" };
        match old.get(n) {
            None if ev.mailbox_name => {
                out.push(format!("* LIST ({attrs}) \"{DELIM}\" {}", quote(n)))
            }
            Some(was) if was != sub && ev.subscription => {
                out.push(format!("* LIST ({attrs}) \"{DELIM}\" {}", quote(n)))
            }
            _ => {}
        }
    }
    for n in old.keys().filter(|n| !new.contains_key(*n)) {
        if e(n).mailbox_name {
            out.push(format!("* LIST (\\NonExistent) \"{DELIM}\" {}", quote(n)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<Value> {
        super::super::parse::request(format!("a NOTIFY {s}").as_bytes())
            .expect("parses")
            .args
    }

    #[test]
    fn specs_parse_and_refuse() {
        assert_eq!(parse(&args("NONE"), false), Ok(None));
        let s = parse(&args(
            "SET STATUS (SELECTED (MessageNew (UID) MessageExpunge)) (SUBTREE (a b) (MessageNew MessageExpunge FlagChange)) (PERSONAL (MailboxName))",
        ), false)
        .unwrap()
        .unwrap();
        assert!(s.status && s.groups.len() == 3);
        assert_eq!(
            s.selected_events().and_then(|e| e.new_fetch.clone()),
            Some(vec![Att::Uid])
        );
        assert!(matches!(
            parse(
                &args("SET (PERSONAL (MessageNew (UID) MessageExpunge))"),
                false
            ),
            Err(Refusal::Bad(_))
        ));
        let acct = Account::default();
        assert!(s.events_for("a/x", &acct).flags && !s.events_for("ab", &acct).flags);
        assert!(s.events_for("ab", &acct).mailbox_name);
        // As Dovecot: message events alone for other mailboxes, only together for SELECTED.
        for alone in [
            "MessageNew",
            "MessageExpunge",
            "FlagChange",
            "MessageNew FlagChange",
        ] {
            let spec = format!("SET (PERSONAL ({alone}))");
            assert!(
                parse(&args(&spec), false).is_ok_and(|s| s.is_some()),
                "{spec}"
            );
        }
        let e = parse(&args("SET (INBOXES (MessageExpunge))"), false)
            .unwrap()
            .unwrap()
            .events_for("INBOX", &acct);
        assert!(e.expunge && !e.new && e.messages());
        for alone in [
            "SELECTED (MessageNew (UID))",
            "SELECTED (MessageExpunge)",
            "SELECTED-DELAYED (MessageNew)",
            "SELECTED (FlagChange)",
        ] {
            let spec = format!("SET ({alone})");
            assert!(
                matches!(parse(&args(&spec), false), Err(Refusal::Bad(_))),
                "{spec}"
            );
        }
        assert!(matches!(
            parse(&args("SET (SELECTED (MailboxName))"), false),
            Err(Refusal::Bad(_))
        ));
        assert_eq!(
            parse(&args("SET (PERSONAL (AnnotationChange))"), false),
            Err(Refusal::No(
                "[BADEVENT (ANNOTATIONCHANGE)] Unsupported event".into()
            ))
        );
    }

    #[test]
    fn changes_become_status_and_list() {
        let a = Snap {
            uidvalidity: 7,
            messages: 1,
            uidnext: 2,
            unseen: 1,
            highest_modseq: 3,
        };
        let msgs = Events {
            new: true,
            expunge: true,
            ..Events::default()
        };
        let all = Events {
            flags: true,
            ..msgs.clone()
        };
        let only_new = Events {
            new: true,
            ..Events::default()
        };
        let only_expunge = Events {
            expunge: true,
            ..Events::default()
        };
        let seen = Snap {
            unseen: 0,
            highest_modseq: 4,
            ..a
        };
        assert_eq!(status_change(&a, &seen, &msgs), None);
        assert_eq!(
            status_change(&a, &seen, &all).as_deref(),
            Some("MESSAGES 1 UIDNEXT 2 UIDVALIDITY 7 UNSEEN 0 HIGHESTMODSEQ 4")
        );
        let new = Snap {
            messages: 2,
            uidnext: 3,
            ..a
        };
        assert_eq!(
            status_change(&a, &new, &msgs).as_deref(),
            Some("MESSAGES 2 UIDNEXT 3 UIDVALIDITY 7")
        );
        assert_eq!(
            status_change(&a, &new, &only_new).as_deref(),
            Some("MESSAGES 2 UIDNEXT 3 UIDVALIDITY 7")
        );
        assert_eq!(status_change(&a, &new, &only_expunge), None);
        let gone = Snap { messages: 0, ..a };
        assert_eq!(status_change(&a, &gone, &only_new), None);
        assert_eq!(
            status_change(&a, &gone, &only_expunge).as_deref(),
            Some("MESSAGES 0 UIDNEXT 2 UIDVALIDITY 7")
        );
        // One arrived and one went between two looks: both events see their change.
        let swapped = Snap { uidnext: 3, ..a };
        assert!(status_change(&a, &swapped, &only_new).is_some());
        assert!(status_change(&a, &swapped, &only_expunge).is_some());
        let renewed = Snap {
            uidvalidity: 8,
            ..a
        };
        assert!(status_change(&a, &renewed, &only_expunge).is_some());
        let old = BTreeMap::from([("x".to_string(), false), ("gone".to_string(), true)]);
        let now = BTreeMap::from([("x".to_string(), true), ("new".to_string(), false)]);
        let ev = |_: &str| Events {
            mailbox_name: true,
            subscription: true,
            ..Events::default()
        };
        assert_eq!(
            name_changes(&old, &now, &ev, false),
            vec![
                "* LIST () \"/\" \"new\"",
                "* LIST (\\Subscribed) \"/\" \"x\"",
                "* LIST (\\NonExistent) \"/\" \"gone\""
            ]
        );
    }
}
