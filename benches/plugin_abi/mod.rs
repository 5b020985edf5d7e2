//! The built `libeksaudit.so` driven through its C ABI, as Falco drives it: `dlopen`,
//! `falco_plugin_runner` for init, open and `next_batch`, and `plugin_extract_fields` called
//! directly with one precompiled field per call (libsinsp compiles a rule's fields once and
//! asks for one per call), so what is measured is the plugin's own cost and not the
//! runner's field-name parsing.
//!
//! The library sits next to the bench binary (`target/<profile>/deps`), where `cargo
//! bench` builds the cdylib. Replays the bench input with `file://` open params, through
//! a shim (the runner always opens with NULL params).

use std::ffi::{CString, c_char};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use falco_plugin::api::{
    plugin_api, ss_instance_t, ss_plugin_extract_field, ss_plugin_extract_field__bindgen_ty_1,
    ss_plugin_field_extract_input, ss_plugin_rc, ss_plugin_t, ss_plugin_table_reader_vtable_ext,
};
use falco_plugin_runner::{PluginRunner, ScapStatus};
use libloading::Library;

/// Falco's `PT_CHARBUF`: every field of the plugin is a string.
const FTYPE_STRING: u32 = 9;

fn so_path() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let deps = exe.parent()?;
    [deps, deps.parent().unwrap_or(deps)]
        .into_iter()
        .map(|dir| dir.join("libeksaudit.so"))
        .find(|p| p.exists())
}

fn library() -> Option<&'static Library> {
    static LIB: OnceLock<Option<&'static Library>> = OnceLock::new();
    *LIB.get_or_init(|| {
        let path = so_path()?;
        // SAFETY: the library is ours; its initialisers have no preconditions.
        let lib = unsafe { Library::new(path) }.ok()?;
        Some(Box::leak(Box::new(lib)))
    })
}

fn sym<T: Copy>(name: &str) -> Option<T> {
    let name = CString::new(name).ok()?;
    // SAFETY: `T` is the function pointer type of the exported symbol of that name.
    unsafe {
        library()?
            .get::<T>(name.as_bytes_with_nul())
            .ok()
            .map(|s| *s)
    }
}

static OPEN_PARAMS: OnceLock<CString> = OnceLock::new();

type OpenFn = unsafe extern "C-unwind" fn(
    *mut ss_plugin_t,
    *const c_char,
    *mut ss_plugin_rc,
) -> *mut ss_instance_t;

unsafe extern "C-unwind" fn open_shim(
    s: *mut ss_plugin_t,
    _params: *const c_char,
    rc: *mut ss_plugin_rc,
) -> *mut ss_instance_t {
    let params = OPEN_PARAMS.get().expect("open params set before a capture");
    let open: OpenFn = sym("plugin_open").expect("plugin_open");
    // SAFETY: the arguments are the runner's, passed through; `params` outlives the call.
    unsafe { open(s, params.as_ptr(), rc) }
}

fn api() -> Option<&'static plugin_api> {
    static API: OnceLock<Option<&'static plugin_api>> = OnceLock::new();
    *API.get_or_init(|| {
        library()?;
        // SAFETY: every member of the vtable is an `Option` of a function pointer.
        let mut api: plugin_api = unsafe { std::mem::zeroed() };
        api.get_required_api_version = sym("plugin_get_required_api_version");
        api.get_version = sym("plugin_get_version");
        api.get_name = sym("plugin_get_name");
        api.get_description = sym("plugin_get_description");
        api.get_contact = sym("plugin_get_contact");
        api.get_init_schema = sym("plugin_get_init_schema");
        api.init = sym("plugin_init");
        api.destroy = sym("plugin_destroy");
        api.get_last_error = sym("plugin_get_last_error");
        api.set_config = sym("plugin_set_config");
        api.get_metrics = sym("plugin_get_metrics");
        let source = &mut api.__bindgen_anon_1;
        source.get_id = sym("plugin_get_id");
        source.get_event_source = sym("plugin_get_event_source");
        source.open = Some(open_shim);
        source.close = sym("plugin_close");
        source.list_open_params = sym("plugin_list_open_params");
        source.get_progress = sym("plugin_get_progress");
        source.event_to_string = sym("plugin_event_to_string");
        source.next_batch = sym("plugin_next_batch");
        let extract = &mut api.__bindgen_anon_2;
        extract.get_extract_event_sources = sym("plugin_get_extract_event_sources");
        extract.get_extract_event_types = sym("plugin_get_extract_event_types");
        extract.get_fields = sym("plugin_get_fields");
        extract.extract_fields = sym("plugin_extract_fields");
        Some(&*Box::leak(Box::new(api)))
    })
}

/// One field request, compiled once as libsinsp does: id, name, key argument, list flag.
struct Request {
    id: u32,
    name: CString,
    key: Option<CString>,
    list: bool,
}

/// The plugin, loaded, with the fields to extract on every event.
pub struct Abi {
    api: &'static plugin_api,
    requests: Vec<Request>,
    /// The plugin's init config: `$EKSAUDIT_BENCH_PLUGIN_CONFIG`, or `{}` (the defaults).
    init_config: CString,
}

impl Abi {
    /// Loads the library and compiles `fields` (`name` or `name[key]`, plugin fields
    /// only) against its `get_fields`. `None` when the library is not next to the bench.
    pub fn load(input: &Path, fields: &[&str]) -> Option<Abi> {
        let api = api()?;
        let _ = OPEN_PARAMS.set(CString::new(format!("file://{}", input.display())).ok()?);
        let get_fields = api.__bindgen_anon_2.get_fields?;
        // SAFETY: `get_fields` returns a NUL-terminated JSON string owned by the plugin.
        let declared = unsafe { std::ffi::CStr::from_ptr(get_fields()) };
        let declared: serde_json::Value = serde_json::from_slice(declared.to_bytes()).ok()?;
        let declared = declared.as_array()?;
        let requests = fields
            .iter()
            .map(|field| {
                let (name, key) = match field.split_once('[') {
                    Some((name, rest)) => (name, Some(rest.trim_end_matches(']'))),
                    None => (*field, None),
                };
                let id = declared
                    .iter()
                    .position(|f| f["name"] == name)
                    .unwrap_or_else(|| panic!("{name} is not a field of the plugin"));
                Request {
                    id: id as u32,
                    name: CString::new(name).unwrap(),
                    key: key.map(|k| CString::new(k).unwrap()),
                    list: declared[id]["isList"] == true,
                }
            })
            .collect();
        let init_config =
            std::env::var("EKSAUDIT_BENCH_PLUGIN_CONFIG").unwrap_or_else(|_| "{}".to_string());
        let init_config = CString::new(init_config).ok()?;
        Some(Abi {
            api,
            requests,
            init_config,
        })
    }

    /// Replays the input through the plugin, extracting every field of every event as
    /// Falco would; returns (events, values).
    pub fn replay(&self) -> (u64, u64) {
        let mut runner = PluginRunner::new();
        runner
            .register_plugin(self.api, &self.init_config)
            .expect("plugin init");
        let mut capture = runner.start_capture().expect("plugin open");
        let extract = self.api.__bindgen_anon_2.extract_fields.expect("extract");
        let mut reader_ext: ss_plugin_table_reader_vtable_ext =
            // SAFETY: a vtable of `Option`s; no table is read by the plugin.
            unsafe { std::mem::zeroed() };
        let (mut events, mut values) = (0u64, 0u64);
        loop {
            let event = match capture.next_event() {
                Ok(event) => event,
                Err(e) => match e.downcast_ref::<ScapStatus>() {
                    Some(ScapStatus::Eof) => break,
                    Some(ScapStatus::Timeout) => continue,
                    _ => panic!("next_batch failed: {e:#}"),
                },
            };
            events += 1;
            let event_input = event.to_event_input();
            for request in &self.requests {
                let mut field = ss_plugin_extract_field {
                    res: ss_plugin_extract_field__bindgen_ty_1 {
                        u64_: std::ptr::null_mut(),
                    },
                    res_len: 0,
                    field_id: request.id,
                    field: request.name.as_ptr(),
                    arg_key: request
                        .key
                        .as_ref()
                        .map_or(std::ptr::null(), |k| k.as_ptr()),
                    arg_index: 0,
                    arg_present: u32::from(request.key.is_some()),
                    ftype: FTYPE_STRING,
                    flist: u32::from(request.list),
                };
                // SAFETY: a zeroed reader vtable is valid (`Option`s); the rest is plain data.
                let input = ss_plugin_field_extract_input {
                    owner: std::ptr::null_mut(),
                    get_owner_last_error: None,
                    num_fields: 1,
                    fields: &mut field,
                    table_reader: unsafe { std::mem::zeroed() },
                    table_reader_ext: &mut reader_ext,
                    value_offsets: std::ptr::null_mut(),
                };
                // SAFETY: the plugin handle and event come from the runner's capture and
                // are valid until the next `next_event`; `input` and `field` live across
                // the call.
                let rc = unsafe { extract(event.source_plugin, &event_input, &input) };
                assert_eq!(rc, 0, "extracting {:?} failed", request.name);
                values += field.res_len;
            }
        }
        (events, values)
    }
}
