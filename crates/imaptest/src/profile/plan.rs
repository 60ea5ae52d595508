//! The deciding part of profile mode: which users exist (their names, passwords, user and
//! client profile), when each first logs in (spread over `rampup_time`), when mail is due
//! (intervals with jitter around their mean), and what a user does with an incoming mail.
//! Pure; the random numbers come from the caller's generator.
use super::parse::{username, Profile, UserNames, UserProfile};
use crate::users::User;
use rand::Rng;
use std::collections::HashMap;
use std::time::Duration;

/// One emulated user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedUser {
    pub login: User,
    /// Index into `Profile::users`.
    pub user: usize,
    /// Index into `Profile::clients`.
    pub client: usize,
}

/// The boundaries of shares of `total` given in % (they add up to 100): share k is
/// `bounds[k]..bounds[k+1]`.
fn bounds(total: u32, pcts: impl Iterator<Item = u32>) -> Vec<u32> {
    let mut out = vec![0];
    let mut cum = 0u64;
    for p in pcts {
        cum += p as u64;
        out.push(((total as u64 * cum + 50) / 100) as u32);
    }
    out
}

/// The users of a profile. `files` holds the users of each `userfile` named in it.
pub fn users(
    p: &Profile,
    files: &HashMap<String, Vec<User>>,
    pass: &str,
) -> Result<Vec<PlannedUser>, String> {
    let ub = bounds(p.total_user_count, p.users.iter().map(|u| u.count));
    let cb = bounds(p.total_user_count, p.clients.iter().map(|c| c.count));
    let mut out = Vec::with_capacity(p.total_user_count as usize);
    for (k, up) in p.users.iter().enumerate() {
        for (j, global) in (ub[k]..ub[k + 1]).enumerate() {
            let login = match &up.names {
                UserNames::Format(f) => User {
                    name: username(f, up.username_start_index.saturating_add(j as u32)),
                    pass: pass.to_string(),
                },
                UserNames::File(name) => {
                    let list = files
                        .get(name)
                        .ok_or_else(|| format!("userfile {name}: not read"))?;
                    match list.get(j) {
                        Some(u) => u.clone(),
                        // a short file: its users are all there are
                        None => break,
                    }
                }
            };
            let client = (0..cb.len() - 1)
                .find(|&c| global >= cb[c] && global < cb[c + 1])
                .unwrap_or(0);
            out.push(PlannedUser {
                login,
                user: k,
                client,
            });
        }
    }
    if out.is_empty() {
        return Err("the profile makes no users".into());
    }
    Ok(out)
}

/// When user `i` of `n` first logs in: spread evenly over the ramp-up.
pub fn first_login(i: usize, n: usize, rampup: Duration) -> Duration {
    if n == 0 {
        return Duration::ZERO;
    }
    rampup.mul_f64(i as f64 / n as f64)
}

/// The first of a series of events every `interval`: somewhere in the first interval.
/// How many sessions a user's login opens, with `open` of its sessions open now:
/// `connection_max_count` is how many connections the user should have in parallel (0 counts
/// as 1). Without a `login_interval` a login opens all that are missing (the user keeps that
/// many connected: a session that ends is replaced at the next login); with one, each login
/// adds one connection while fewer than the maximum are open.
pub fn logins_due(open: u32, connection_max_count: u32, login_interval: Duration) -> u32 {
    let max = connection_max_count.max(1);
    if open >= max {
        0
    } else if login_interval.is_zero() {
        max - open
    } else {
        1
    }
}

pub fn first_of(interval: Duration, rng: &mut impl Rng) -> Duration {
    interval.mul_f64(rng.gen_range(0.0..1.0))
}

/// The next event of a series: `interval` on average, between half and one and a half of it.
pub fn next_of(interval: Duration, rng: &mut impl Rng) -> Duration {
    interval.mul_f64(rng.gen_range(0.5..1.5))
}

/// What a user does with a mail it noticed, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Opens it (the client's `imap_fetch_manual`).
    Read,
    /// Writes a reply: to Drafts, later to Sent, then `\Answered` on the mail.
    Reply,
    /// Moves it to Spam.
    Move,
    /// `\Deleted` and UID EXPUNGE.
    Delete,
}

/// Whether a new mail is moved to Spam at once when noticed (`mail_inbox_move_filter_percentage`).
pub fn filtered(up: &UserProfile, rng: &mut impl Rng) -> bool {
    roll(up.move_filter_pct, rng)
}

fn roll(pct: u32, rng: &mut impl Rng) -> bool {
    pct > 0 && rng.gen_range(0..100) < pct
}

/// The actions on one incoming mail: it is read, then each percentage is rolled. A reply
/// comes before the mail leaves the INBOX; a mail both deleted and moved is only deleted.
pub fn actions(up: &UserProfile, rng: &mut impl Rng) -> Vec<Action> {
    let delete = roll(up.delete_pct, rng);
    let moved = roll(up.move_pct, rng);
    let reply = roll(up.reply_pct, rng);
    let mut a = vec![Action::Read];
    if reply {
        a.push(Action::Reply);
    }
    if delete {
        a.push(Action::Delete);
    } else if moved {
        a.push(Action::Move);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::super::parse::parse;
    use super::*;
    use rand::SeedableRng;

    const TWO: &str = "lmtp_port = 24\ntotal_user_count = 10\n\
        user a {\n username_format = a%n\n count = 30%\n}\n\
        user b {\n username_format = b%{username_idx | lfill(2, '0')}\n username_start_index = 100\n count = 70%\n}\n\
        client x {\n count = 80%\n}\nclient y {\n count = 20%\n protocol = pop3\n}\n";

    #[test]
    fn users_are_shared_out_by_count() {
        let p = parse("p", TWO).unwrap();
        let u = users(&p, &HashMap::new(), "pw").unwrap();
        let names: Vec<&str> = u.iter().map(|u| u.login.name.as_str()).collect();
        assert_eq!(
            names,
            ["a1", "a2", "a3", "b100", "b101", "b102", "b103", "b104", "b105", "b106"]
        );
        assert_eq!(u.iter().filter(|u| u.client == 1).count(), 2);
        assert_eq!(u.iter().filter(|u| u.user == 0).count(), 3);
        assert_eq!(u[0].login.pass, "pw");
        let zero = TWO.replace("30%", "0%").replace("70%", "100%");
        let u = users(&parse("p", &zero).unwrap(), &HashMap::new(), "pw").unwrap();
        assert!(u.iter().all(|u| u.user == 1) && u.len() == 10);
    }

    #[test]
    fn userfiles_give_names_and_passwords() {
        let t = TWO.replace("username_format = a%n", "userfile = list");
        let p = parse("p", &t).unwrap();
        let mut files = HashMap::new();
        files.insert(
            "list".to_string(),
            vec![User {
                name: "alice".into(),
                pass: "s".into(),
            }],
        );
        let u = users(&p, &files, "pw").unwrap();
        assert_eq!(u[0].login.name, "alice");
        assert_eq!(u[0].login.pass, "s");
        assert_eq!(u.len(), 8, "a short file has only its users");
        assert!(users(&p, &HashMap::new(), "pw").is_err());
    }

    #[test]
    fn timing_and_actions() {
        assert_eq!(
            first_login(5, 10, Duration::from_secs(30)),
            Duration::from_secs(15)
        );
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let i = Duration::from_secs(10);
        let mut sum = Duration::ZERO;
        for _ in 0..1000 {
            let d = next_of(i, &mut rng);
            assert!(d >= i / 2 && d <= i * 3 / 2);
            sum += d;
            assert!(first_of(i, &mut rng) < i);
        }
        let mean = sum.as_secs_f64() / 1000.0;
        assert!((9.5..10.5).contains(&mean), "{mean}");
        let p = parse("p", TWO).unwrap();
        let mut up = p.users[0].clone();
        assert_eq!(actions(&up, &mut rng), [Action::Read]);
        up.delete_pct = 100;
        up.move_pct = 100;
        up.reply_pct = 100;
        assert_eq!(
            actions(&up, &mut rng),
            [Action::Read, Action::Reply, Action::Delete]
        );
        up.delete_pct = 0;
        assert_eq!(
            actions(&up, &mut rng),
            [Action::Read, Action::Reply, Action::Move]
        );
        assert!(!filtered(&up, &mut rng));
    }

    #[test]
    fn logins_open_connection_max_count_sessions() {
        let none = Duration::ZERO;
        assert_eq!(logins_due(0, 5, none), 5);
        assert_eq!(logins_due(3, 5, none), 2);
        assert_eq!(logins_due(5, 5, none), 0);
        assert_eq!(logins_due(0, 0, none), 1);
        let each = Duration::from_secs(1);
        assert_eq!(logins_due(0, 5, each), 1);
        assert_eq!(logins_due(4, 5, each), 1);
        assert_eq!(logins_due(5, 5, each), 0);
        assert_eq!(logins_due(1, 1, each), 0);
    }
}
