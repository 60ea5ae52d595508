//! Who logs in: the `user` template (up to two `%d`/`%i`: the first a number in `users`, the
//! second one in `1..=domains`), or `userfile` lines (`user[:pass]`), with `pass` as the
//! default password. Pure; the random numbers come from the caller's generator, so a seeded run
//! picks the same users again.
use anyhow::{bail, Context, Result};
use rand::Rng;
use std::path::Path;

/// One login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub pass: String,
}

/// Where users come from.
#[derive(Debug, Clone)]
pub enum Users {
    Template {
        template: String,
        users: (u32, u32),
        domains: u32,
        pass: String,
    },
    File(Vec<User>),
}

/// The positions of `%d`/`%i` in a template.
fn slots(template: &str) -> usize {
    template.matches("%d").count() + template.matches("%i").count()
}

/// Fills a template's slots in order with `numbers`.
pub fn expand(template: &str, numbers: &[u32]) -> String {
    let mut out = String::with_capacity(template.len() + 8);
    let mut rest = template;
    let mut k = 0;
    while let Some(p) = rest.find('%') {
        out.push_str(&rest[..p]);
        let spec = rest[p + 1..].chars().next();
        match spec {
            Some('d') | Some('i') => {
                out.push_str(&numbers.get(k).map(|n| n.to_string()).unwrap_or_default());
                k += 1;
                rest = &rest[p + 2..];
            }
            Some('%') => {
                out.push('%');
                rest = &rest[p + 2..];
            }
            _ => {
                out.push('%');
                rest = &rest[p + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

impl Users {
    /// The users a run's configuration names (`user`, `users`, `domains`, `userfile`, `pass`).
    pub fn from_config(cfg: &crate::args::Config) -> Result<Users> {
        Users::new(
            &cfg.user,
            cfg.users,
            cfg.domains,
            cfg.userfile.as_deref(),
            &cfg.pass,
        )
    }

    /// From the command line's `user`, `users`, `domains`, `userfile` and `pass`.
    pub fn new(
        template: &str,
        users: (u32, u32),
        domains: u32,
        userfile: Option<&Path>,
        pass: &str,
    ) -> Result<Users> {
        if let Some(path) = userfile {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("userfile {}", path.display()))?;
            let list: Vec<User> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(|l| match l.split_once(':') {
                    Some((u, p)) => User {
                        name: u.to_string(),
                        pass: p.to_string(),
                    },
                    None => User {
                        name: l.to_string(),
                        pass: pass.to_string(),
                    },
                })
                .collect();
            if list.is_empty() {
                bail!("userfile {}: no users in it", path.display());
            }
            return Ok(Users::File(list));
        }
        if slots(template) > 2 {
            bail!("user={template}: at most two %d/%i (user number, then domain number)");
        }
        if template.is_empty() {
            bail!("user= is empty (and $USER is not set)");
        }
        Ok(Users::Template {
            template: template.to_string(),
            users,
            domains: domains.max(1),
            pass: pass.to_string(),
        })
    }

    /// Whether every pick is the same user.
    pub fn is_single(&self) -> bool {
        match self {
            Users::Template { template, .. } => slots(template) == 0,
            Users::File(l) => l.len() == 1,
        }
    }

    /// The first user (scripted tests use it).
    pub fn first(&self) -> User {
        match self {
            Users::Template {
                template,
                users,
                pass,
                ..
            } => User {
                name: expand(template, &[users.0, 1]),
                pass: pass.clone(),
            },
            Users::File(l) => l[0].clone(),
        }
    }

    /// A random user.
    pub fn pick(&self, rng: &mut impl Rng) -> User {
        match self {
            Users::Template {
                template,
                users,
                domains,
                pass,
            } => {
                let n = [
                    rng.gen_range(users.0..=users.1),
                    rng.gen_range(1..=*domains),
                ];
                User {
                    name: expand(template, &n),
                    pass: pass.clone(),
                }
            }
            Users::File(l) => l[rng.gen_range(0..l.len())].clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn templates() {
        assert_eq!(expand("user%d@domain%d.org", &[5, 7]), "user5@domain7.org");
        assert_eq!(expand("u%i", &[3]), "u3");
        assert_eq!(expand("100%%", &[]), "100%");
        let u = Users::new("u%d@d%d", (10, 12), 3, None, "pw").unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for _ in 0..50 {
            let p = u.pick(&mut rng);
            let (a, b) = p.name.trim_start_matches('u').split_once("@d").unwrap();
            assert!(
                (10..=12).contains(&a.parse::<u32>().unwrap())
                    && (1..=3).contains(&b.parse::<u32>().unwrap()),
                "{p:?}"
            );
            assert_eq!(p.pass, "pw");
        }
        assert!(!u.is_single());
        assert!(Users::new("testuser", (1, 99), 100, None, "p")
            .unwrap()
            .is_single());
        assert!(Users::new("%d%d%d", (1, 2), 1, None, "p").is_err());
    }

    #[test]
    fn userfile_lines() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("users");
        std::fs::write(&f, "alice:secret\n\n# comment\nbob\n").unwrap();
        let u = Users::new("ignored", (1, 99), 100, Some(&f), "default").unwrap();
        assert_eq!(
            u.first(),
            User {
                name: "alice".into(),
                pass: "secret".into()
            }
        );
        let Users::File(l) = &u else { panic!() };
        assert_eq!(
            l[1],
            User {
                name: "bob".into(),
                pass: "default".into()
            }
        );
        std::fs::write(&f, "\n").unwrap();
        assert!(Users::new("x", (1, 99), 100, Some(&f), "p").is_err());
    }
}
