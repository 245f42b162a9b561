//! The CPython calls on the decode hot path that safe pyo3 has no equivalent for.
//!
//! This is the crate's only `unsafe` code. Each function calls one function of the stable ABI
//! with pointers borrowed from live `Bound` values (so they are valid and the GIL is held) and
//! turns its result into a `PyResult` the way pyo3 does. They replace Python-level calls of
//! `object.__new__`, `object.__setattr__` and `set(...)` that cost several hundred nanoseconds
//! each on this path (a model costs six of them, a UUID three), and do exactly what those calls
//! do; [`untrack`] keeps the cyclic garbage collector from walking objects that cannot be part
//! of a cycle.
#![allow(unsafe_code)]

use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PySet, PyString, PyTuple, PyType};

/// Whether [`alloc_instance`] builds an instance of `cls` the way `object.__new__(cls)` would,
/// with nothing skipped that the class expects to run: `cls.__new__` is `object.__new__` (no
/// base, in Python or C, defines its own constructor) and every class in its MRO but `object`
/// is a heap type, so no static native base has a layout of its own to initialise.
pub fn is_plain_class(cls: &Bound<'_, PyType>) -> PyResult<bool> {
    let py = cls.py();
    let object = py.get_type::<pyo3::types::PyAny>();
    let new = pyo3::intern!(py, "__new__");
    if !cls.getattr(new)?.is(&object.getattr(new)?) {
        return Ok(false);
    }
    let mro = cls
        .getattr(pyo3::intern!(py, "__mro__"))?
        .cast_into::<PyTuple>()?;
    for base in mro.iter() {
        let base = base.cast_into::<PyType>()?;
        if base.is(&object) {
            continue;
        }
        // SAFETY: `base` is a live type object and the GIL is held.
        let flags = unsafe { ffi::PyType_GetFlags(base.as_type_ptr()) };
        if flags & ffi::Py_TPFLAGS_HEAPTYPE == 0 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A new instance of `cls` as `object.__new__(cls)` makes it: allocated by the class's
/// `tp_alloc`, no `__new__` or `__init__` run, every slot empty. Only for classes that
/// [`is_plain_class`] accepts (checked when a plan is made); abstract classes are refused as
/// `object.__new__` refuses them.
pub fn alloc_instance<'py>(cls: &Bound<'py, PyType>) -> PyResult<Bound<'py, PyAny>> {
    let py = cls.py();
    let tp = cls.as_type_ptr();
    // SAFETY: `tp` is a live type object and the GIL is held.
    let flags = unsafe { ffi::PyType_GetFlags(tp) };
    if flags & ffi::Py_TPFLAGS_IS_ABSTRACT != 0 {
        return Err(PyTypeError::new_err(format!(
            "Can't instantiate abstract class {}",
            cls.qualname()?
        )));
    }
    // SAFETY: `Py_tp_alloc` is a slot every type has (inherited from `object` at worst), with
    // the `allocfunc` signature; it returns a new reference or NULL with an exception set.
    unsafe {
        let slot = ffi::PyType_GetSlot(tp, ffi::Py_tp_alloc);
        if slot.is_null() {
            return Err(PyTypeError::new_err(format!(
                "{} has no allocator",
                cls.qualname()?
            )));
        }
        let alloc: ffi::allocfunc = std::mem::transmute(slot);
        Bound::from_owned_ptr_or_err(py, alloc(tp, 0))
    }
}

/// `object.__setattr__(obj, name, value)`: the generic attribute protocol (data descriptors such
/// as `__slots__` members and `__dict__`, then the instance dict), bypassing the class's own
/// `__setattr__`.
pub fn generic_setattr(
    obj: &Bound<'_, PyAny>,
    name: &Bound<'_, PyString>,
    value: &Bound<'_, PyAny>,
) -> PyResult<()> {
    // SAFETY: three live objects, the GIL held; returns -1 with an exception set on failure.
    let status =
        unsafe { ffi::PyObject_GenericSetAttr(obj.as_ptr(), name.as_ptr(), value.as_ptr()) };
    if status == 0 {
        Ok(())
    } else {
        Err(PyErr::fetch(obj.py()))
    }
}

/// A new `set` of the keys of `names` (`set(names)`, which for a dict reuses the keys' stored
/// hashes), not tracked by the cyclic garbage collector: for string keys only (a model's
/// fields set), which can never be part of a reference cycle.
pub fn name_set<'py>(names: &Bound<'py, PyDict>) -> PyResult<Bound<'py, PySet>> {
    // SAFETY: a live dict, the GIL held; returns a new reference or NULL with an exception set.
    let set = unsafe {
        Bound::from_owned_ptr_or_err(names.py(), ffi::PySet_New(names.as_ptr()))?
            .cast_into_unchecked::<PySet>()
    };
    untrack(set.as_any());
    Ok(set)
}

/// Takes `obj` off the cyclic garbage collector's lists. Only for objects that can never be
/// part of a reference cycle (immutable ones holding no containers, sets of strings): the
/// collector would find nothing to free in them, yet each collection of their generation walks
/// them, and a batch of models holds several per document (measured: most of the collection
/// that follows a 10 000-document find). An untracked object is freed by reference counting
/// as usual. Objects of types the collector does not know are left alone.
pub fn untrack(obj: &Bound<'_, PyAny>) {
    // SAFETY: a live object and its type, the GIL held. `PyObject_GC_UnTrack` may only be
    // called on objects of a GC type (others have no GC header), hence the flag check; it does
    // nothing for an object already untracked.
    unsafe {
        let flags = ffi::PyType_GetFlags(ffi::Py_TYPE(obj.as_ptr()));
        if flags & ffi::Py_TPFLAGS_HAVE_GC != 0 {
            ffi::PyObject_GC_UnTrack(obj.as_ptr().cast());
        }
    }
}
