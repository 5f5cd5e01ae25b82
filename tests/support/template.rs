//! `template.yaml` as CloudFormation would read it, for the tests that
//! check its policies: the YAML (with its `!Ref`, `!GetAtt`, `!Sub`, `!If`,
//! `!Join`, `!Split` tags) resolved to plain JSON for one set of
//! parameters, and a small evaluator of IAM policy statements.
//!
//! Resolution keeps names, not ARNs, so a policy reads like the README's
//! IAM table: `!GetAtt ArchiveBucket.Arn` is `ArchiveBucket`,
//! `!Sub ${ArchiveBucket.Arn}/raw/*` is `ArchiveBucket/raw/*`, a parameter
//! not given is `${Name}` and a pseudo parameter stays `${AWS::Region}`.
//! A parameter given to [`Template::with`] resolves to its value.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};
use serde_norway::Value as Yaml;

use super::localstack::root;

/// The template, with the parameters a test sets.
pub struct Template {
    yaml: Yaml,
    params: BTreeMap<String, String>,
}

impl Template {
    /// template.yaml with every parameter at its default.
    pub fn load() -> Template {
        Template::with(&[])
    }

    /// template.yaml with these parameters set (the rest at their default).
    pub fn with(params: &[(&str, &str)]) -> Template {
        let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
        let yaml: Yaml = serde_norway::from_str(&text).unwrap();
        let params = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Template { yaml, params }
    }

    /// A top-level section (`Globals`, `Outputs`, ...), resolved.
    pub fn section(&self, name: &str) -> Json {
        self.resolve(&self.yaml[name]).unwrap()
    }

    /// A parameter's definition, resolved.
    pub fn parameter(&self, name: &str) -> Json {
        let definition = self.yaml["Parameters"]
            .get(name)
            .unwrap_or_else(|| panic!("no parameter {name}"));
        self.resolve(definition).unwrap()
    }

    /// A parameter's value: the one set, else its default.
    pub fn parameter_value(&self, name: &str) -> Option<String> {
        if let Some(value) = self.params.get(name) {
            return Some(value.clone());
        }
        let default = self.yaml["Parameters"].get(name)?.get("Default")?;
        Some(match default {
            Yaml::String(s) => s.clone(),
            Yaml::Number(n) => n.to_string(),
            Yaml::Bool(b) => b.to_string(),
            other => panic!("parameter {name}: default {other:?}"),
        })
    }

    /// Whether a condition of the `Conditions` section holds.
    pub fn condition(&self, name: &str) -> bool {
        let definition = self.yaml["Conditions"]
            .get(name)
            .unwrap_or_else(|| panic!("no condition {name}"));
        self.evaluate(definition)
    }

    fn evaluate(&self, yaml: &Yaml) -> bool {
        let Yaml::Tagged(tagged) = yaml else {
            panic!("not a condition function: {yaml:?}");
        };
        let args = match &tagged.value {
            Yaml::Sequence(args) => args.as_slice(),
            other => std::slice::from_ref(other),
        };
        let tag = &tagged.tag;
        if tag == "Equals" {
            let a = self.concrete(&args[0]);
            let b = self.concrete(&args[1]);
            a == b
        } else if tag == "Not" {
            !self.evaluate(&args[0])
        } else if tag == "And" {
            args.iter().all(|a| self.evaluate(a))
        } else if tag == "Or" {
            args.iter().any(|a| self.evaluate(a))
        } else if tag == "Condition" {
            self.condition(args[0].as_str().unwrap())
        } else {
            panic!("condition function {tag:?}")
        }
    }

    /// A value inside a condition: a literal or a parameter's value.
    fn concrete(&self, yaml: &Yaml) -> String {
        match yaml {
            Yaml::String(s) => s.clone(),
            Yaml::Tagged(tagged) if tagged.tag == "Ref" => {
                let name = tagged.value.as_str().unwrap();
                self.parameter_value(name)
                    .unwrap_or_else(|| panic!("no parameter {name}"))
            }
            other => panic!("condition operand {other:?}"),
        }
    }

    /// Whether a resource is in the template and its condition holds.
    pub fn has_resource(&self, id: &str) -> bool {
        self.yaml["Resources"]
            .get(id)
            .is_some_and(|r| self.resource_condition_holds(r))
    }

    fn resource_condition_holds(&self, resource: &Yaml) -> bool {
        resource
            .get("Condition")
            .and_then(Yaml::as_str)
            .is_none_or(|c| self.condition(c))
    }

    /// A resource (`Type`, `Properties`, `Condition`, ...), resolved.
    pub fn resource(&self, id: &str) -> Json {
        assert!(
            self.has_resource(id),
            "no resource {id} (or its condition is false)"
        );
        self.resolve(&self.yaml["Resources"][id]).unwrap()
    }

    /// The `Properties` of a resource.
    pub fn properties(&self, id: &str) -> Json {
        self.resource(id)["Properties"].clone()
    }

    /// Every resource of a type whose condition holds, by id.
    pub fn resources_of_type(&self, type_name: &str) -> Vec<(String, Json)> {
        let Yaml::Mapping(resources) = &self.yaml["Resources"] else {
            panic!("no Resources");
        };
        resources
            .iter()
            .filter(|(_, r)| r["Type"].as_str() == Some(type_name))
            .filter(|(_, r)| self.resource_condition_holds(r))
            .map(|(id, r)| (id.as_str().unwrap().to_owned(), self.resolve(r).unwrap()))
            .collect()
    }

    /// The statements of the role a function runs as (its `Role`).
    pub fn function_statements(&self, function: &str) -> Vec<Statement> {
        let role = self.function_role(function);
        let mut found = Vec::new();
        for policy in self.properties(&role)["Policies"].as_array().unwrap() {
            found.extend(statements(&policy["PolicyDocument"]));
        }
        found
    }

    /// The role a function runs as (its `Role: !GetAtt <Role>.Arn`).
    pub fn function_role(&self, function: &str) -> String {
        let properties = self.properties(function);
        properties["Role"]
            .as_str()
            .unwrap_or_else(|| panic!("{function} has no Role of the template's own"))
            .to_owned()
    }

    /// Resolves the intrinsic functions of a value; `None` for
    /// `!Ref AWS::NoValue` (and a branch of `!If` that is).
    pub fn resolve(&self, yaml: &Yaml) -> Option<Json> {
        Some(match yaml {
            Yaml::Null => Json::Null,
            Yaml::Bool(b) => Json::Bool(*b),
            Yaml::Number(n) => serde_json::to_value(n).unwrap(),
            Yaml::String(s) => Json::String(s.clone()),
            Yaml::Sequence(items) => {
                Json::Array(items.iter().filter_map(|i| self.resolve(i)).collect())
            }
            Yaml::Mapping(entries) => {
                let mut map = Map::new();
                for (key, value) in entries {
                    let key = key.as_str().expect("string keys").to_owned();
                    if let Some(value) = self.resolve(value) {
                        map.insert(key, value);
                    }
                }
                Json::Object(map)
            }
            Yaml::Tagged(tagged) => return self.intrinsic(&tagged.tag.to_string(), &tagged.value),
        })
    }

    fn intrinsic(&self, tag: &str, arg: &Yaml) -> Option<Json> {
        let tag = tag.trim_start_matches('!');
        Some(Json::String(match tag {
            "Ref" => {
                let name = arg.as_str().unwrap();
                if name == "AWS::NoValue" {
                    return None;
                }
                self.reference(name)
            }
            "GetAtt" => {
                let (resource, attribute) = match arg {
                    Yaml::String(s) => s.split_once('.').unwrap(),
                    Yaml::Sequence(parts) => {
                        (parts[0].as_str().unwrap(), parts[1].as_str().unwrap())
                    }
                    other => panic!("GetAtt {other:?}"),
                };
                get_att(resource, attribute)
            }
            "Sub" => {
                let (text, variables) = match arg {
                    Yaml::String(s) => (s.as_str(), BTreeMap::new()),
                    Yaml::Sequence(parts) => {
                        (parts[0].as_str().unwrap(), self.variables(&parts[1]))
                    }
                    other => panic!("Sub {other:?}"),
                };
                self.substitute(text, &variables)
            }
            "If" => {
                let Yaml::Sequence(args) = arg else {
                    panic!("If {arg:?}");
                };
                let branch = match self.condition(args[0].as_str().unwrap()) {
                    true => &args[1],
                    false => &args[2],
                };
                return self.resolve(branch);
            }
            // A list parameter given to a test is its text, commas and all.
            "Join" => {
                let Yaml::Sequence(args) = arg else {
                    panic!("Join {arg:?}");
                };
                let separator = args[0].as_str().unwrap();
                match self.resolve(&args[1])? {
                    Json::String(text) => text,
                    list => strings(&list).join(separator),
                }
            }
            "Split" => {
                let Yaml::Sequence(args) = arg else {
                    panic!("Split {arg:?}");
                };
                let separator = args[0].as_str().unwrap();
                let text = self.resolve(&args[1])?;
                let text = text.as_str().unwrap_or_else(|| panic!("Split {text}"));
                return Some(Json::Array(
                    text.split(separator)
                        .map(|part| Json::String(part.to_owned()))
                        .collect(),
                ));
            }
            other => panic!("intrinsic function !{other} is not handled here"),
        }))
    }

    /// `!Ref name`: a parameter set by the test is its value; any other
    /// parameter or pseudo parameter is `${name}`; a resource is its id.
    fn reference(&self, name: &str) -> String {
        if let Some(value) = self.params.get(name) {
            return value.clone();
        }
        let is_parameter = self.yaml["Parameters"].get(name).is_some();
        if is_parameter || name.starts_with("AWS::") {
            format!("${{{name}}}")
        } else {
            name.to_owned()
        }
    }

    /// The variable map of a `!Sub [text, {name: value}]`, resolved.
    fn variables(&self, map: &Yaml) -> BTreeMap<String, String> {
        let Yaml::Mapping(entries) = map else {
            panic!("Sub variables {map:?}");
        };
        entries
            .iter()
            .map(|(name, value)| {
                let value = match self.resolve(value) {
                    Some(Json::String(text)) => text,
                    other => panic!("Sub variable {name:?}: {other:?}"),
                };
                (name.as_str().unwrap().to_owned(), value)
            })
            .collect()
    }

    /// `${...}` in a `!Sub` text replaced: a variable of its map, a
    /// resource's attribute, or a reference.
    fn substitute(&self, text: &str, variables: &BTreeMap<String, String>) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').unwrap() + start;
            let name = &rest[start + 2..end];
            match (variables.get(name), name.split_once('.')) {
                (Some(value), _) => out.push_str(value),
                (None, Some((resource, attribute))) => {
                    out.push_str(&get_att(resource, attribute));
                }
                (None, None) => out.push_str(&self.reference(name)),
            }
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }
}

fn get_att(resource: &str, attribute: &str) -> String {
    match attribute {
        "Arn" => resource.to_owned(),
        other => format!("{resource}.{other}"),
    }
}

/// A string or a list of strings, as a list.
pub fn strings(value: &Json) -> Vec<String> {
    match value {
        Json::Null => Vec::new(),
        Json::String(s) => vec![s.clone()],
        Json::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .unwrap_or_else(|| panic!("not a string: {i}"))
                    .to_owned()
            })
            .collect(),
        other => panic!("not a string or a list of strings: {other}"),
    }
}

/// One statement of a policy document.
#[derive(Debug, Clone)]
pub struct Statement {
    /// `Sid` (empty when none).
    pub sid: String,
    /// `Allow` or `Deny`.
    pub effect: String,
    /// `Principal` as written (`Null` in an identity policy).
    pub principal: Json,
    /// `Action`.
    pub actions: Vec<String>,
    /// `Resource`.
    pub resources: Vec<String>,
    /// `Condition`: operator -> key -> values.
    pub condition: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

/// The statements of a (resolved) policy document.
pub fn statements(document: &Json) -> Vec<Statement> {
    let list = match &document["Statement"] {
        Json::Array(items) => items.clone(),
        single => vec![single.clone()],
    };
    list.iter()
        .map(|s| {
            let mut condition = BTreeMap::new();
            if let Some(operators) = s["Condition"].as_object() {
                for (operator, keys) in operators {
                    let keys = keys
                        .as_object()
                        .unwrap()
                        .iter()
                        .map(|(k, v)| (k.clone(), strings(v)))
                        .collect();
                    condition.insert(operator.clone(), keys);
                }
            }
            Statement {
                sid: s["Sid"].as_str().unwrap_or_default().to_owned(),
                effect: s["Effect"].as_str().unwrap().to_owned(),
                principal: s["Principal"].clone(),
                actions: strings(&s["Action"]),
                resources: strings(&s["Resource"]),
                condition,
            }
        })
        .collect()
}

impl Statement {
    /// The condition in one line: `Operator key value, value` per key,
    /// joined by `; ` (empty when none). The README's IAM table writes
    /// conditions this way.
    pub fn condition_text(&self) -> String {
        let mut parts = Vec::new();
        for (operator, keys) in &self.condition {
            for (key, values) in keys {
                parts.push(format!("{operator} {key} {}", values.join(", ")));
            }
        }
        parts.join("; ")
    }

    /// The values a condition names for a key under an operator.
    pub fn condition_values(&self, operator: &str, key: &str) -> Vec<String> {
        self.condition
            .get(operator)
            .and_then(|keys| keys.get(key))
            .cloned()
            .unwrap_or_default()
    }

    fn principal_matches(&self, principal_arn: &str) -> bool {
        match &self.principal {
            Json::Null => true,
            Json::String(s) => s == "*",
            Json::Object(map) => map
                .get("AWS")
                .map(strings)
                .is_some_and(|arns| arns.iter().any(|a| a == "*" || a == principal_arn)),
            _ => false,
        }
    }

    /// Whether the statement applies to a request: action, resource,
    /// principal and every condition (IAM's rules for a missing key: a
    /// positive operator fails, a negated one holds, `Null` tests it).
    pub fn applies(&self, request: &Request<'_>) -> bool {
        self.actions.iter().any(|a| glob(a, request.action))
            && self.resources.iter().any(|r| glob(r, request.resource))
            && self.principal_matches(request.principal)
            && self.condition.iter().all(|(operator, keys)| {
                keys.iter()
                    .all(|(key, values)| holds(operator, values, request.key(key)))
            })
    }
}

fn holds(operator: &str, values: &[String], actual: Option<&str>) -> bool {
    let any =
        |f: &dyn Fn(&str, &str) -> bool| actual.is_some_and(|a| values.iter().any(|v| f(v, a)));
    match operator {
        "Null" => {
            let want_missing = values == ["true"];
            actual.is_none() == want_missing
        }
        "Bool" | "StringEquals" | "ArnEquals" => any(&|v, a| v == a),
        "StringLike" | "ArnLike" => any(&|v, a| glob(v, a)),
        "StringNotEquals" | "ArnNotEquals" => !any(&|v, a| v == a),
        "StringNotLike" | "ArnNotLike" => !any(&|v, a| glob(v, a)),
        other => panic!("condition operator {other} is not handled here"),
    }
}

/// A request to judge: who does what to which resource, with which
/// condition keys.
pub struct Request<'a> {
    /// The principal's ARN (also `aws:PrincipalArn`).
    pub principal: &'a str,
    /// The action, e.g. `s3:PutObject`.
    pub action: &'a str,
    /// The resource, named as the resolved template names it
    /// (`ArchiveBucket/raw/x`).
    pub resource: &'a str,
    /// Condition keys and their values.
    pub context: &'a [(&'a str, &'a str)],
}

impl Request<'_> {
    fn key(&self, key: &str) -> Option<&str> {
        if key == "aws:PrincipalArn" {
            return Some(self.principal);
        }
        self.context
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| *v)
    }
}

/// Whether some statement denies the request.
pub fn denied(statements: &[Statement], request: &Request<'_>) -> bool {
    statements
        .iter()
        .any(|s| s.effect == "Deny" && s.applies(request))
}

/// IAM's wildcard match: `*` is any run of characters, `?` any one.
pub fn glob(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some((b'*', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
            Some((b'?', rest)) => !t.is_empty() && go(rest, &t[1..]),
            Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}
