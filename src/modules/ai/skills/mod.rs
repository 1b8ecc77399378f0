//! Skills in the Agent Skills layout: a folder holding `SKILL.md` (YAML front matter with `name`
//! and `description`, optional other keys, then the instructions) and any other files. They come
//! from the directory the `skills_dir` setting names, and a few built into the binary
//! (`builtin/*/SKILL.md`). Running one is an AI task seeded by [`seed`].
//!
//! Reading the directory never fails the list: an unreadable directory is reported in
//! `problems` (with the built-in skills still listed), a folder whose `SKILL.md` is missing or
//! bad is skipped and reported, a folder that would shadow a built-in skill too. Ids are folder
//! names of `a-z 0-9 -` (1 to 64, as Agent Skills names are), so an id never walks out of the
//! directory; symbolic links (a skill folder, its `SKILL.md`, any of its files) are never
//! followed, so nothing outside the directory is read or listed.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::integrations::ModuleSettings;
use crate::modules::{ModuleError, ModuleName};
use crate::state::AppState;

/// The setting naming the skills directory.
pub const DIR_SETTING: &str = "skills_dir";
/// The largest `SKILL.md` read.
const MAX_SKILL_BYTES: u64 = 256 * 1024;
/// The most files listed per skill, and how deep.
const MAX_FILES: usize = 200;
const MAX_DEPTH: usize = 4;
/// The most skill folders read from the directory.
const MAX_SKILLS: usize = 500;
/// The largest input a run takes, in characters.
pub const MAX_INPUT_CHARS: usize = 100_000;

static BUILTIN: &[(&str, &str)] = &[
    (
        "diagnose-container",
        include_str!("builtin/diagnose-container/SKILL.md"),
    ),
    (
        "fleet-health",
        include_str!("builtin/fleet-health/SKILL.md"),
    ),
    (
        "review-compose",
        include_str!("builtin/review-compose/SKILL.md"),
    ),
];

/// Where a skill comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = AiSkillSource)]
pub enum SkillSource {
    Builtin,
    Directory,
}

/// A skill as listed.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = AiSkill)]
pub struct Skill {
    pub id: String,
    pub name: String,
    pub description: String,
    pub source: SkillSource,
    /// The front matter's other keys (`license`, `allowed-tools`, `mode`, `metadata`, …).
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
}

/// A file of a skill's folder besides `SKILL.md`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = AiSkillFile)]
pub struct SkillFile {
    /// Relative to the skill's folder, `/`-separated.
    pub path: String,
    pub size: u64,
}

/// A skill with its instructions and files.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = AiSkillDetail)]
pub struct SkillDetail {
    #[serde(flatten)]
    pub skill: Skill,
    /// `SKILL.md` after the front matter.
    pub instructions: String,
    pub files: Vec<SkillFile>,
}

/// A skill folder that was skipped, or the directory itself when it cannot be read.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = AiSkillProblem)]
pub struct SkillProblem {
    /// The folder (or the directory) concerned.
    pub path: String,
    pub error: String,
}

/// Every skill (built-in first, then the directory's by id) and what was skipped.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    pub skills: Vec<SkillDetail>,
    pub problems: Vec<SkillProblem>,
}

/// What a run of a skill starts with.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = AiSkillSeed)]
pub struct SkillSeed {
    /// The task's first prompt: the skill's instructions, then the input.
    pub prompt: String,
    /// The mode the skill asks for (`mode` in its front matter), if any.
    pub mode_hint: Option<String>,
    /// The tools it needs (`allowed-tools`), when it names them; only tools that exist.
    pub tools: Option<Vec<String>>,
}

/// A skill id (a folder name): `a-z 0-9 -`, 1 to 64, not starting or ending with `-`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('-')
        && !id.ends_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Splits `SKILL.md` into its front matter (checked) and its instructions.
pub fn parse(text: &str) -> Result<(String, String, Map<String, Value>, String), String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rest = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
        .ok_or("SKILL.md must start with a '---' line (YAML front matter)")?;
    let (yaml, body) = match rest.find("\n---") {
        Some(i) => {
            let after = &rest[i + 4..];
            let body = after
                .strip_prefix("\r\n")
                .or_else(|| after.strip_prefix('\n'))
                .or_else(|| after.is_empty().then_some(""))
                .ok_or("the front matter must end with a '---' line")?;
            (&rest[..i], body)
        }
        None => return Err("the front matter has no closing '---' line".into()),
    };
    let front: serde_yaml_ng::Value = serde_yaml_ng::from_str(yaml)
        .map_err(|e| format!("the front matter is not valid YAML: {e}"))?;
    let front =
        serde_json::to_value(front).map_err(|e| format!("the front matter cannot be read: {e}"))?;
    let Value::Object(mut front) = front else {
        return Err("the front matter must be a YAML mapping".into());
    };
    let name = match front.remove("name") {
        Some(Value::String(n)) if valid_id(&n) => n,
        Some(_) => {
            return Err("name must be 1 to 64 lowercase letters, digits and hyphens".into());
        }
        None => return Err("the front matter has no name".into()),
    };
    let description = match front.remove("description") {
        Some(Value::String(d)) if !d.trim().is_empty() && d.chars().count() <= 1024 => {
            d.trim().to_owned()
        }
        Some(_) => return Err("description must be a text of 1 to 1024 characters".into()),
        None => return Err("the front matter has no description".into()),
    };
    Ok((name, description, front, body.trim().to_owned()))
}

fn detail(
    id: &str,
    source: SkillSource,
    text: &str,
    files: Vec<SkillFile>,
) -> Result<SkillDetail, String> {
    let (name, description, metadata, instructions) = parse(text)?;
    if instructions.is_empty() {
        return Err("SKILL.md has no instructions after the front matter".into());
    }
    Ok(SkillDetail {
        skill: Skill {
            id: id.to_owned(),
            name,
            description,
            source,
            metadata,
        },
        instructions,
        files,
    })
}

fn builtins() -> Vec<SkillDetail> {
    BUILTIN
        .iter()
        .filter_map(|(id, text)| detail(id, SkillSource::Builtin, text, Vec::new()).ok())
        .collect()
}

/// The skills directory, if one is set.
async fn configured_dir(state: &AppState) -> Result<Option<PathBuf>, ModuleError> {
    let settings = ModuleSettings::load(state, ModuleName::Ai).await?;
    Ok(settings
        .text(DIR_SETTING)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(PathBuf::from))
}

/// Every skill and the problems found (never an error for the directory's content).
pub async fn catalogue(state: &AppState) -> Result<Catalogue, ModuleError> {
    let dir = configured_dir(state).await?;
    let mut out = Catalogue {
        skills: builtins(),
        problems: Vec::new(),
    };
    if let Some(dir) = dir {
        let (skills, problems) = tokio::task::spawn_blocking(move || read_dir(&dir))
            .await
            .map_err(|e| ModuleError::Internal(format!("reading the skills directory: {e}")))?;
        for s in skills {
            if out.skills.iter().any(|b| b.skill.id == s.skill.id) {
                out.problems.push(SkillProblem {
                    path: s.skill.id.clone(),
                    error: format!(
                        "'{}' is the id of a built-in skill; rename the folder",
                        s.skill.id
                    ),
                });
            } else {
                out.skills.push(s);
            }
        }
        out.problems.extend(problems);
    }
    Ok(out)
}

/// The skill `id`.
pub async fn get(state: &AppState, id: &str) -> Result<SkillDetail, ModuleError> {
    if !valid_id(id) {
        return Err(ModuleError::InvalidField {
            field: "id".into(),
            message: "id must be 1 to 64 lowercase letters, digits and hyphens".into(),
        });
    }
    catalogue(state)
        .await?
        .skills
        .into_iter()
        .find(|s| s.skill.id == id)
        .ok_or(ModuleError::NotFound("skill"))
}

/// What a run of skill `id` with `input` starts with: the task AI tasks create for
/// `POST /api/ai/skills/{id}/run`.
pub async fn seed(state: &AppState, id: &str, input: &str) -> Result<SkillSeed, ModuleError> {
    if input.chars().count() > MAX_INPUT_CHARS {
        return Err(ModuleError::InvalidField {
            field: "input".into(),
            message: format!("input is longer than {MAX_INPUT_CHARS} characters"),
        });
    }
    let skill = get(state, id).await?;
    Ok(seed_of(&skill, input))
}

fn seed_of(skill: &SkillDetail, input: &str) -> SkillSeed {
    let mut prompt = format!(
        "You are running the skill '{}': {}\n\n{}",
        skill.skill.name, skill.skill.description, skill.instructions
    );
    if !input.trim().is_empty() {
        prompt.push_str("\n\n## Input\n\n");
        prompt.push_str(input.trim());
    }
    let meta = &skill.skill.metadata;
    let mode_hint = meta.get("mode").and_then(Value::as_str).map(str::to_owned);
    let tools = meta.get("allowed-tools").map(|v| {
        let names: Vec<String> = match v {
            Value::String(s) => s.split_whitespace().map(str::to_owned).collect(),
            Value::Array(a) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        names
            .into_iter()
            .filter(|n| super::tools::find(n).is_some())
            .collect()
    });
    SkillSeed {
        prompt,
        mode_hint,
        tools,
    }
}

/// Reads every skill folder of `dir` (blocking).
fn read_dir(dir: &Path) -> (Vec<SkillDetail>, Vec<SkillProblem>) {
    let mut skills = Vec::new();
    let mut problems = Vec::new();
    let shown = dir.display().to_string();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            problems.push(SkillProblem {
                path: shown.clone(),
                error: format!("the skills directory ({DIR_SETTING}) cannot be read: {e}"),
            });
            return (skills, problems);
        }
    };
    let mut folders: Vec<(String, PathBuf)> = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_symlink() {
            problems.push(SkillProblem {
                path: name,
                error: "a symbolic link; skill folders must be real folders inside the directory"
                    .into(),
            });
            continue;
        }
        if !kind.is_dir() {
            continue;
        }
        if !valid_id(&name) {
            problems.push(SkillProblem {
                path: name,
                error: "the folder name is not a skill id (1 to 64 lowercase letters, digits and hyphens)".into(),
            });
            continue;
        }
        folders.push((name, entry.path()));
    }
    folders.sort();
    if folders.len() > MAX_SKILLS {
        problems.push(SkillProblem {
            path: shown,
            error: format!(
                "{} skill folders; only the first {MAX_SKILLS} by name are read",
                folders.len()
            ),
        });
        folders.truncate(MAX_SKILLS);
    }
    for (id, path) in folders {
        match read_skill(&id, &path) {
            Ok(s) => skills.push(s),
            Err(error) => problems.push(SkillProblem { path: id, error }),
        }
    }
    (skills, problems)
}

fn read_skill(id: &str, folder: &Path) -> Result<SkillDetail, String> {
    let file = folder.join("SKILL.md");
    let meta = std::fs::symlink_metadata(&file).map_err(|e| format!("SKILL.md: {e}"))?;
    if meta.file_type().is_symlink() || !meta.is_file() {
        return Err("SKILL.md must be a regular file (not a link)".into());
    }
    if meta.len() > MAX_SKILL_BYTES {
        return Err(format!(
            "SKILL.md is larger than {} KiB",
            MAX_SKILL_BYTES / 1024
        ));
    }
    let bytes = std::fs::read(&file).map_err(|e| format!("SKILL.md: {e}"))?;
    let text = String::from_utf8(bytes).map_err(|_| "SKILL.md is not UTF-8".to_owned())?;
    let mut files = Vec::new();
    list_files(folder, folder, 0, &mut files);
    let skill = detail(id, SkillSource::Directory, &text, files)?;
    if skill.skill.name != id {
        return Err(format!(
            "name '{}' differs from the folder name '{id}'",
            skill.skill.name
        ));
    }
    Ok(skill)
}

/// The regular files under `dir` (never through a symbolic link), `SKILL.md` excepted.
fn list_files(root: &Path, dir: &Path, depth: usize, out: &mut Vec<SkillFile>) {
    if depth > MAX_DEPTH || out.len() >= MAX_FILES {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        if out.len() >= MAX_FILES {
            return;
        }
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            continue;
        }
        let path = entry.path();
        if meta.is_dir() {
            list_files(root, &path, depth + 1, out);
        } else if meta.is_file() {
            let Ok(rel) = path.strip_prefix(root) else {
                continue;
            };
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            if rel != "SKILL.md" {
                out.push(SkillFile {
                    path: rel,
                    size: meta.len(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_skills_parse() {
        let b = builtins();
        assert_eq!(b.len(), BUILTIN.len());
        for s in &b {
            assert_eq!(s.skill.name, s.skill.id);
            let seed = seed_of(s, "api on node-3");
            assert!(seed.prompt.contains("api on node-3"));
            assert_eq!(seed.mode_hint.as_deref(), Some("read-only"));
            assert!(!seed.tools.unwrap_or_default().is_empty());
        }
    }

    #[test]
    fn front_matter_is_checked() {
        assert!(parse("no front matter").is_err());
        assert!(parse("---\nname: x\n").is_err());
        assert!(parse("---\nname: Bad Name\ndescription: d\n---\nbody").is_err());
        assert!(parse("---\nname: ok\n---\nbody").is_err());
        assert!(parse("---\n- a list\n---\nbody").is_err());
        assert!(parse("---\nname: ok\ndescription: [unclosed\n---\nbody").is_err());
        let (name, description, meta, body) =
            parse("---\nname: ok\ndescription: Does it.\nlicense: MIT\n---\n# Title\nSteps")
                .unwrap();
        assert_eq!((name.as_str(), description.as_str()), ("ok", "Does it."));
        assert_eq!(meta["license"], "MIT");
        assert_eq!(body, "# Title\nSteps");
    }

    #[test]
    fn ids_cannot_walk_out() {
        for bad in [
            "", "..", "../etc", "a/b", "A", "-a", "a-", "a b", "a\\b", "%2e%2e",
        ] {
            assert!(!valid_id(bad), "{bad}");
        }
        assert!(valid_id("diagnose-container"));
    }

    #[test]
    fn a_directory_is_read_without_following_links_or_failing_on_bad_folders() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let good = root.join("good-skill");
        std::fs::create_dir_all(good.join("scripts")).unwrap();
        std::fs::write(
            good.join("SKILL.md"),
            "---\nname: good-skill\ndescription: Good.\n---\nDo it.",
        )
        .unwrap();
        std::fs::write(good.join("scripts/run.sh"), "echo hi").unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), "s3cret").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.txt"), good.join("leak.txt"))
            .unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("linked")).unwrap();
        std::fs::create_dir(root.join("broken")).unwrap();
        std::fs::write(root.join("broken/SKILL.md"), "no front matter").unwrap();
        std::fs::create_dir(root.join("empty")).unwrap();
        let (skills, problems) = read_dir(root);
        assert_eq!(skills.len(), 1);
        let files: Vec<&str> = skills[0].files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(files, ["scripts/run.sh"]);
        assert_eq!(skills[0].files[0].size, 7);
        let bad: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert!(bad.contains(&"broken") && bad.contains(&"empty") && bad.contains(&"linked"));
        let (skills, problems) = read_dir(&root.join("nope"));
        assert!(skills.is_empty());
        assert!(problems[0].error.contains("cannot be read"));
    }
}
