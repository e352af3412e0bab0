//! The TypeScript bindings of the command table: `ui/src/bindings.ts`.
//!
//! One typed function per command, the declaration of every type they take
//! or return (from `pos_app::api`, through ts-rs), and the events. The file
//! is generated, never edited: `bindings_are_fresh` fails when it differs
//! from what this module renders, and `UPDATE_BINDINGS=1 cargo test -p
//! whiz-pos bindings` rewrites it.

use std::collections::BTreeMap;

use ts_rs::{TS, TypeVisitor};

use crate::commands;

/// One command's signature.
#[derive(Debug)]
pub struct Command {
    pub name: &'static str,
    pub doc: &'static str,
    /// Rust parameter names and their TypeScript types.
    pub args: Vec<(&'static str, String)>,
    pub returns: String,
    /// Adds the declarations of every type the command mentions.
    pub types: fn(&mut Types),
}

/// The declarations to emit, by type name.
#[derive(Debug, Default)]
pub struct Types {
    decls: BTreeMap<String, String>,
}

impl Types {
    /// The TypeScript name of `T`. Integers of 64 bits are `number` here:
    /// every one the commands carry (minor units, thousandths, counts) is
    /// far below 2^53.
    pub fn name<T: TS + ?Sized>() -> String {
        T::name().replace("bigint", "number")
    }

    /// Adds `T`'s declaration, if it is a declared type, and those of
    /// everything it mentions.
    pub fn add<T: TS + 'static + ?Sized>(&mut self) {
        if T::output_path().is_some() {
            let name = T::ident();
            if self.decls.contains_key(&name) {
                return;
            }
            let docs = T::docs()
                .map(|d| format!("{}\n", d.trim_end()))
                .unwrap_or_default();
            let decl = format!("{docs}export {}", T::decl()).replace("bigint", "number");
            self.decls.insert(name, decl);
        }
        T::visit_dependencies(self);
        T::visit_generics(self);
    }
}

impl TypeVisitor for Types {
    fn visit<T: TS + 'static + ?Sized>(&mut self) {
        self.add::<T>();
    }
}

/// An event the shell emits.
struct Event {
    /// `SyncStatus` gives `EVENTS.syncStatus` and `onSyncStatus`.
    constant: &'static str,
    name: &'static str,
    payload: String,
    types: fn(&mut Types),
}

fn events() -> Vec<Event> {
    vec![
        Event {
            constant: "SyncStatus",
            name: crate::SYNC_STATUS,
            payload: Types::name::<pos_app::SyncStatusView>(),
            types: |t| t.add::<pos_app::SyncStatusView>(),
        },
        Event {
            constant: "FullSyncProgress",
            name: crate::FULL_SYNC_PROGRESS,
            payload: Types::name::<pos_app::FullSyncProgressView>(),
            types: |t| t.add::<pos_app::FullSyncProgressView>(),
        },
    ]
}

/// The whole of `ui/src/bindings.ts`.
pub fn render() -> String {
    let table = commands::table();
    let events = events();
    let mut types = Types::default();
    types.add::<pos_app::CommandError>();
    for command in &table {
        (command.types)(&mut types);
    }
    for event in &events {
        (event.types)(&mut types);
    }

    let mut out = String::from(
        "// Generated from src-tauri/src/commands.rs and crates/pos-app/src/api.rs.\n\
         // Do not edit: run `UPDATE_BINDINGS=1 cargo test -p whiz-pos bindings`.\n\
         /* eslint-disable */\n\n\
         import { invoke } from '@tauri-apps/api/core';\n\
         import { listen, type UnlistenFn } from '@tauri-apps/api/event';\n\n",
    );
    for decl in types.decls.values() {
        out.push_str(decl);
        out.push_str("\n\n");
    }
    out.push_str(
        "/** What every command rejects with. */\n\
         export function isCommandError(e: unknown): e is CommandError {\n\
         \x20 return typeof e === 'object' && e !== null && 'code' in e && 'message' in e;\n\
         }\n\n",
    );
    for command in &table {
        out.push_str(&render_command(command));
    }
    out.push_str("export const EVENTS = {\n");
    for event in &events {
        out.push_str(&format!(
            "  {}: '{}',\n",
            lower_first(event.constant),
            event.name
        ));
    }
    out.push_str("} as const;\n\n");
    for Event {
        constant,
        name: event,
        payload,
        ..
    } in &events
    {
        out.push_str(&format!(
            "export function on{constant}(handler: (payload: {payload}) => void): Promise<UnlistenFn> {{\n\
             \x20 return listen<{payload}>('{event}', (e) => handler(e.payload));\n\
             }}\n\n"
        ));
    }
    out.trim_end().to_string() + "\n"
}

fn render_command(command: &Command) -> String {
    let mut out = String::new();
    let doc = command.doc.trim();
    if !doc.is_empty() {
        out.push_str("/**\n");
        for line in doc.lines() {
            out.push_str(&format!(" * {}\n", line.trim()));
        }
        out.push_str(" */\n");
    }
    let params: Vec<String> = command
        .args
        .iter()
        .map(|(name, ty)| format!("{}: {ty}", camel(name)))
        .collect();
    let names: Vec<String> = command.args.iter().map(|(name, _)| camel(name)).collect();
    let returns = if command.returns == "null" {
        "void".to_string()
    } else {
        command.returns.clone()
    };
    let args = if names.is_empty() {
        String::new()
    } else {
        format!(", {{ {} }}", names.join(", "))
    };
    out.push_str(&format!(
        "export function {}({}): Promise<{returns}> {{\n  return invoke<{returns}>('{}'{args});\n}}\n\n",
        camel(command.name),
        params.join(", "),
        command.name,
    ));
    out
}

/// `user_id` → `userId`: Tauri's naming of command arguments in JavaScript.
fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_lowercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../ui/src/bindings.ts");

    #[test]
    fn bindings_are_fresh() {
        let rendered = render();
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            std::fs::write(PATH, &rendered).expect("write ui/src/bindings.ts");
            return;
        }
        let on_disk = std::fs::read_to_string(PATH).unwrap_or_default();
        assert!(
            on_disk == rendered,
            "ui/src/bindings.ts is stale: run `UPDATE_BINDINGS=1 cargo test -p whiz-pos bindings` \
             and commit it"
        );
    }

    #[test]
    fn every_command_is_bound_once_with_camel_case_arguments() {
        let rendered = render();
        let table = commands::table();
        let mut names: Vec<&str> = table.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), table.len(), "a command is listed twice");
        assert!(rendered.contains(
            "export function login(userId: string, pin: string): Promise<Session> {\n  \
             return invoke<Session>('login', { userId, pin });\n}"
        ));
        assert!(rendered.contains("export function lock(): Promise<void>"));
        assert!(rendered.contains("export type ErrorCode = "));
        assert!(!rendered.contains("bigint"));
    }

    #[test]
    fn names_convert_like_tauri() {
        assert_eq!(camel("remove_server_only"), "removeServerOnly");
        assert_eq!(camel("lock"), "lock");
        assert_eq!(lower_first("SyncStatus"), "syncStatus");
    }
}
