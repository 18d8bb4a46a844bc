//! Fixture tests: a small hand-built BTF and script definitions with layouts checked against gcc.

use std::sync::Arc;

use bpfscope_btf::builder::BtfBuilder;
use bpfscope_btf::{Btf, Kind, TypeId};

use crate::{
    include_is_satisfied, parse_c_definitions, Bitfield, CType, DefinitionKind, DefinitionOrigin,
    IncludeOutcome, KernelTypes, KtypesError, RecordKind,
};

/// Ids of the fixture's types.
const TASK_STRUCT: u32 = 9;
const ANONYMOUS_UNION: u32 = 10;

/// A miniature kernel: `task_struct` with typedef'd pids, a self pointer, a char array,
/// bitfields (one signed) and an anonymous union; an enum; a typedef behind a const; a forward
/// declared struct; a struct holding a function pointer.
fn fixture_btf() -> Arc<Btf<'static>> {
    let mut builder = BtfBuilder::new();
    let int = builder.int("int", 4, true); // 1
    let unsigned_int = builder.int("unsigned int", 4, false); // 2
    let char_type = builder.int("char", 1, false); // 3: pahole leaves char's sign unset
    let unsigned_long = builder.int("long unsigned int", 8, false); // 4
    let kernel_pid = builder.reference(Kind::Typedef, "__kernel_pid_t", int); // 5
    let pid = builder.reference(Kind::Typedef, "pid_t", kernel_pid); // 6
    let task_pointer = builder.reference(Kind::Ptr, "", TASK_STRUCT); // 7
    let comm = builder.array(char_type, int, 16); // 8
    let task = builder.composite(
        false,
        "task_struct",
        48,
        &[
            ("state", unsigned_int, 0, 0),
            ("flags_low", unsigned_int, 32, 3),
            ("prio_delta", int, 35, 5),
            ("pid", pid, 64, 0),
            ("tgid", pid, 96, 0),
            ("parent", task_pointer, 128, 0),
            ("comm", comm, 192, 0),
            ("", ANONYMOUS_UNION, 320, 0),
        ],
    ); // 9
    assert_eq!(task, TASK_STRUCT);
    let union = builder.composite(
        true,
        "",
        8,
        &[("mode", unsigned_int, 0, 0), ("raw", unsigned_long, 0, 0)],
    ); // 10
    assert_eq!(union, ANONYMOUS_UNION);
    builder.enumeration(
        "bpf_map_type",
        4,
        false,
        &[("BPF_MAP_TYPE_UNSPEC", 0), ("BPF_MAP_TYPE_HASH", 1)],
    ); // 11
    builder.reference(Kind::Typedef, "u32", unsigned_int); // 12
    let const_task = builder.reference(Kind::Const, "", TASK_STRUCT); // 13
    builder.reference(Kind::Typedef, "task_t", const_task); // 14
    let forward = builder.reference(Kind::Fwd, "sk_buff", 0); // 15
    let forward_pointer = builder.reference(Kind::Ptr, "", forward); // 16
    let proto = builder.func_proto(int, &[("x", int)]); // 17
    let proto_pointer = builder.reference(Kind::Ptr, "", proto); // 18
    builder.composite(
        false,
        "ops",
        16,
        &[
            ("callback", proto_pointer, 0, 0),
            ("skb", forward_pointer, 64, 0),
        ],
    ); // 19
    let btf = Btf::parse(builder.build()).expect("fixture BTF parses");
    Arc::new(btf)
}

fn fixture_types() -> KernelTypes {
    KernelTypes::new(fixture_btf())
}

fn task_pointer(types: &KernelTypes) -> CType {
    types
        .resolve_type_name("struct task_struct *")
        .expect("struct task_struct * resolves")
}

#[test]
fn type_names_resolve_through_typedefs_and_base_spellings() {
    let types = fixture_types();
    let cases: [(&str, CType); 12] = [
        ("unsigned long", CType::int(8, false)),
        ("long unsigned int", CType::int(8, false)),
        ("unsigned long long", CType::int(8, false)),
        ("short", CType::int(2, true)),
        ("signed char", CType::int(1, true)),
        ("unsigned", CType::int(4, false)),
        ("u32", CType::int(4, false)),
        ("pid_t", CType::int(4, true)),
        ("uint16", CType::int(2, false)),
        ("char[16]", CType::array_of(CType::CHAR, 16)),
        ("const char *", CType::pointer_to(CType::CHAR)),
        ("_Bool", CType::Bool),
    ];
    for (spelling, expected) in cases {
        assert_eq!(
            types.resolve_type_name(spelling).as_ref(),
            Ok(&expected),
            "{spelling}"
        );
    }
    let task = task_pointer(&types);
    assert_eq!(task.to_string(), "struct task_struct *");
    let record = task.record().expect("points at a record");
    assert_eq!(record.origin, DefinitionOrigin::Btf(TypeId(TASK_STRUCT)));
    assert_eq!((record.size, record.align), (48, 8));
    let double_pointer = types
        .resolve_type_name("struct task_struct **")
        .expect("double pointer");
    assert_eq!(double_pointer.to_string(), "struct task_struct **");
    // A typedef of a const struct is the struct.
    assert_eq!(
        types.resolve_type_name("task_t").expect("task_t"),
        CType::Record(record.clone())
    );
    assert_eq!(
        types
            .resolve_type_name("char[16]")
            .expect("array")
            .to_string(),
        "char[16]"
    );
}

#[test]
fn unknown_type_names_say_what_is_wrong() {
    let types = fixture_types();
    let error = types
        .resolve_type_name("task_struct")
        .expect_err("not a typedef");
    assert_eq!(
        error.to_string(),
        "unknown type 'task_struct'; did you mean 'struct task_struct'?"
    );
    let error = types
        .resolve_type_name("struct nope *")
        .expect_err("unknown struct");
    assert!(matches!(error, KtypesError::UnknownType { .. }), "{error}");
    let error = types
        .resolve_type_name("long long long")
        .expect_err("three longs");
    assert!(
        matches!(error, KtypesError::InvalidTypeName { .. }),
        "{error}"
    );
    let no_btf = KernelTypes::without_btf();
    assert_eq!(
        no_btf
            .resolve_type_name("unsigned int")
            .expect("base types need no BTF"),
        CType::int(4, false)
    );
    let error = no_btf
        .resolve_type_name("struct task_struct *")
        .expect_err("needs BTF");
    assert!(matches!(error, KtypesError::NoBtf { .. }), "{error}");
}

#[test]
fn member_chains_follow_pointers_lazily() {
    let types = fixture_types();
    let task = task_pointer(&types);
    let parent = types.member(&task, "parent").expect("parent");
    assert_eq!(parent.byte_offset, 16);
    assert_eq!(parent.bitfield, None);
    assert_eq!(parent.ty, task);
    let pid = types.member(&parent.ty, "pid").expect("parent->pid");
    assert_eq!((pid.byte_offset, pid.ty.clone()), (8, CType::int(4, true)));
    let tgid = types.member(&parent.ty, "tgid").expect("parent->tgid");
    assert_eq!(tgid.byte_offset, 12);
    let comm = types.member(&task, "comm").expect("comm");
    assert_eq!(comm.byte_offset, 24);
    assert!(comm.ty.is_char_array());
    assert_eq!(comm.ty.size(), 16);
    // Through the anonymous union.
    let raw = types
        .member(&task, "raw")
        .expect("raw in the anonymous union");
    assert_eq!((raw.byte_offset, raw.ty), (40, CType::int(8, false)));
    // `.` on a record by value works the same.
    let by_value = types.deref_pointer(&task).expect("pointee");
    assert_eq!(
        types.member(&by_value, "mode").expect("mode").byte_offset,
        40
    );
}

#[test]
fn bitfields_come_with_a_load_and_shift_recipe() {
    let types = fixture_types();
    let task = task_pointer(&types);
    let flags = types.member(&task, "flags_low").expect("flags_low");
    assert_eq!(flags.byte_offset, 4);
    let recipe = flags.bitfield.expect("a bitfield");
    assert_eq!(
        recipe,
        Bitfield {
            load_bytes: 1,
            shift_left: 61,
            shift_right: 61,
            signed: false,
            bits: 3,
            bit_in_load: 0,
        }
    );
    // prio_delta: 5 signed bits starting at bit 35 = byte 4, bit 3.
    let delta = types.member(&task, "prio_delta").expect("prio_delta");
    assert_eq!(delta.byte_offset, 4);
    let recipe = delta.bitfield.expect("a bitfield");
    assert_eq!(
        (recipe.load_bytes, recipe.bit_in_load, recipe.signed),
        (1, 3, true)
    );
    // Byte 4 = 0b1111_0101: flags_low = 0b101 = 5, prio_delta = 0b11110 = -2.
    let loaded = 0b1111_0101u64;
    assert_eq!(flags.bitfield.map(|bits| bits.extract(loaded)), Some(5));
    assert_eq!(recipe.extract(loaded) as i64, -2);
    // A field crossing a byte boundary needs a wider load.
    let wide = Bitfield::for_field(6, 4, false).expect("fits two bytes");
    assert_eq!(wide.load_bytes, 2);
    assert_eq!(wide.extract(0b11_1100_0000), 0b1111);
    assert_eq!(Bitfield::for_field(7, 64, false), None);
}

#[test]
fn missing_members_suggest_the_closest_name() {
    let types = fixture_types();
    let task = task_pointer(&types);
    let error = types.member(&task, "tgdi").expect_err("typo");
    assert_eq!(
        error.to_string(),
        "no member 'tgdi' in struct task_struct; did you mean 'tgid'?"
    );
    let error = types
        .member(&task, "rwa")
        .expect_err("typo inside the union");
    assert_eq!(
        error.to_string(),
        "no member 'rwa' in struct task_struct; did you mean 'raw'?"
    );
    let error = types
        .member(&task, "completely_unrelated")
        .expect_err("no such");
    assert_eq!(
        error.to_string(),
        "no member 'completely_unrelated' in struct task_struct"
    );
    let error = types
        .member(&CType::int(4, true), "x")
        .expect_err("not a record");
    assert!(matches!(error, KtypesError::NotARecord { .. }));
}

#[test]
fn offsetof_sizeof_and_field_listing() {
    let types = fixture_types();
    let task = types
        .resolve_type_name("struct task_struct")
        .expect("struct");
    assert_eq!(types.offset_of(&task, "tgid"), Ok(12));
    assert_eq!(types.offset_of(&task, "comm[3]"), Ok(27));
    assert_eq!(types.offset_of(&task, "mode"), Ok(40));
    assert!(matches!(
        types.offset_of(&task, "flags_low"),
        Err(KtypesError::BitfieldOffset { .. })
    ));
    // No walking through pointers in offsetof.
    assert!(types.offset_of(&task, "parent.pid").is_err());
    assert_eq!(types.size_of(&task), 48);
    assert_eq!(types.size_of_name("pid_t"), Ok(4));
    assert_eq!(types.size_of_name("struct task_struct *"), Ok(8));

    let fields = types.fields(&task).expect("fields");
    let names: Vec<&str> = fields.iter().map(|field| field.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "state",
            "flags_low",
            "prio_delta",
            "pid",
            "tgid",
            "parent",
            "comm",
            ""
        ]
    );
    let anonymous = fields.last().expect("anonymous union");
    assert_eq!(anonymous.byte_offset, 40);
    assert!(matches!(&anonymous.ty, CType::Record(record) if record.kind == RecordKind::Union));
}

#[test]
fn forward_declarations_and_function_pointers() {
    let types = fixture_types();
    let ops = types.resolve_type_name("struct ops").expect("ops");
    let callback = types.member(&ops, "callback").expect("callback");
    assert_eq!(callback.ty, CType::FunctionPointer);
    let skb = types.member(&ops, "skb").expect("skb");
    assert_eq!(skb.byte_offset, 8);
    assert_eq!(skb.ty.to_string(), "struct sk_buff *");
    let error = types.member(&skb.ty, "len").expect_err("only declared");
    assert!(
        matches!(error, KtypesError::IncompleteRecord { .. }),
        "{error}"
    );
}

#[test]
fn enum_values_come_from_btf() {
    let types = fixture_types();
    let constant = types.enum_value("BPF_MAP_TYPE_HASH").expect("enumerator");
    assert_eq!(constant.value, 1);
    assert_eq!(constant.ty.to_string(), "enum bpf_map_type");
    assert_eq!(constant.ty.size(), 4);
    assert!(types.enum_value("BPF_MAP_TYPE_NOPE").is_err());
    let values = types.enum_values(&constant.ty).expect("values");
    assert_eq!(values.len(), 2);
}

#[test]
fn script_structs_get_the_c_layout() {
    let mut types = fixture_types();
    let definitions = types
        .define(
            "struct Foo { char c; int a; char name[16]; struct task_struct *t; short s; };\n\
             struct B { unsigned a:3; unsigned b:30; char c; int d:4; };\n\
             union U { int a; char b[9]; long c; };\n\
             struct A { int x; union { int y; char z[8]; }; char tail; };\n\
             struct P { char a; int :4; char b; };\n\
             struct Z { char a; int b:3; int :0; char c; };\n\
             struct L { char a; long b:60; char c:4; }",
        )
        .expect("definitions parse");
    assert_eq!(definitions.len(), 7);
    assert_eq!(definitions[0].kind, DefinitionKind::Struct);
    // Expected values printed by gcc on x86_64 for the same definitions.
    let foo = types.resolve_type_name("struct Foo").expect("Foo");
    assert_eq!((foo.size(), foo.align()), (40, 8));
    for (member, offset) in [("c", 0), ("a", 4), ("name", 8), ("t", 24), ("s", 32)] {
        assert_eq!(types.offset_of(&foo, member), Ok(offset), "Foo.{member}");
    }
    // A pointer to a BTF struct inside a script struct can be followed.
    let t = types.member(&foo, "t").expect("t");
    assert_eq!(
        types.member(&t.ty, "tgid").expect("t->tgid").byte_offset,
        12
    );

    let b = types.resolve_type_name("struct B").expect("B");
    assert_eq!((b.size(), b.align()), (12, 4));
    assert_eq!(types.offset_of(&b, "c"), Ok(8));
    let bit_b = types.member(&b, "b").expect("b");
    assert_eq!(
        (bit_b.byte_offset, bit_b.bitfield.map(|bits| bits.bits)),
        (4, Some(30))
    );
    let bit_d = types.member(&b, "d").expect("d");
    assert_eq!(bit_d.byte_offset, 9); // bit 72
    assert!(bit_d
        .bitfield
        .is_some_and(|bits| bits.signed && bits.bit_in_load == 0));

    let u = types.resolve_type_name("union U").expect("U");
    assert_eq!((u.size(), u.align()), (16, 8));

    let a = types.resolve_type_name("struct A").expect("A");
    assert_eq!((a.size(), a.align()), (16, 4));
    assert_eq!(types.offset_of(&a, "y"), Ok(4));
    assert_eq!(types.offset_of(&a, "z[2]"), Ok(6));
    assert_eq!(types.offset_of(&a, "tail"), Ok(12));

    let p = types.resolve_type_name("struct P").expect("P");
    assert_eq!((p.size(), p.align()), (3, 1));
    assert_eq!(types.offset_of(&p, "b"), Ok(2));

    let z = types.resolve_type_name("struct Z").expect("Z");
    assert_eq!(z.size(), 8);
    assert_eq!(types.offset_of(&z, "c"), Ok(4));

    let l = types.resolve_type_name("struct L").expect("L");
    assert_eq!(l.size(), 16);
    let bit_c = types.member(&l, "c").expect("c");
    // bit 124 = byte 15, bit 4.
    assert_eq!(bit_c.byte_offset, 15);
    assert_eq!(bit_c.bitfield.map(|bits| bits.bit_in_load), Some(4));
    let bit_l = types.member(&l, "b").expect("b");
    assert_eq!(
        (
            bit_l.byte_offset,
            bit_l.bitfield.map(|bits| bits.load_bytes)
        ),
        (8, Some(8))
    );
}

#[test]
fn script_definitions_shadow_btf_and_reference_each_other() {
    let mut types = fixture_types();
    types
        .define(
            "struct task_struct { int only; };\n\
             struct Node { int value; struct Node *next; struct Node *children[2]; };\n\
             typedef struct Node node_t, *node_pointer;\n\
             typedef unsigned long my_ulong;\n\
             enum Color { RED, GREEN = 5, BLUE, MASK = 1 << 4 | BLUE };\n\
             struct Uses { enum Color color; node_t node; my_ulong big; char tag[MASK]; }",
        )
        .expect("definitions parse");
    let task = types
        .resolve_type_name("struct task_struct")
        .expect("shadowed");
    assert_eq!(task.size(), 4);
    assert!(matches!(
        task.record().map(|record| record.origin),
        Some(DefinitionOrigin::Script(_))
    ));
    assert_eq!(
        types
            .member(&task, "tgid")
            .expect_err("script version")
            .to_string(),
        "no member 'tgid' in struct task_struct"
    );

    let node = types.resolve_type_name("node_t").expect("node_t");
    assert_eq!(node.size(), 32);
    let next = types.member(&node, "next").expect("next");
    // The self pointer was typed before Node was complete; it is completed afterwards.
    assert_eq!(next.ty.pointee().map(CType::size), Some(32));
    assert_eq!(
        types
            .member(&next.ty, "value")
            .expect("next->value")
            .byte_offset,
        0
    );
    assert_eq!(
        types
            .resolve_type_name("node_pointer")
            .expect("pointer typedef")
            .to_string(),
        "struct Node *"
    );

    assert_eq!(
        types.enum_value("BLUE").map(|constant| constant.value),
        Ok(6)
    );
    assert_eq!(
        types.enum_value("MASK").map(|constant| constant.value),
        Ok(22)
    );
    let uses = types.resolve_type_name("struct Uses").expect("Uses");
    assert_eq!(types.offset_of(&uses, "node"), Ok(8));
    assert_eq!(types.offset_of(&uses, "big"), Ok(40));
    assert_eq!(types.offset_of(&uses, "tag"), Ok(48));
    assert_eq!(uses.size(), 72);
    let color = types.member(&uses, "color").expect("color");
    assert_eq!(color.ty.to_string(), "enum Color");
}

#[test]
fn definition_errors_point_at_the_problem() {
    let types = fixture_types();
    let text = "struct Foo { int a; struct nope *p; };";
    let error = parse_c_definitions(text, &types).expect_err("unknown struct");
    assert_eq!(text.get(error.span.clone()), Some("struct nope"));
    assert!(
        error.message.contains("unknown type 'struct nope'"),
        "{}",
        error.message
    );

    let text = "struct Foo { int a; char a; };";
    let error = parse_c_definitions(text, &types).expect_err("duplicate");
    assert_eq!(error.message, "duplicate member 'a'");
    assert_eq!(text.get(error.span.clone()), Some("a"));

    let text = "struct Foo { int a: 40; };";
    let error = parse_c_definitions(text, &types).expect_err("too wide");
    assert!(error.message.contains("wider"), "{}", error.message);

    let text = "struct Foo { struct Foo inner; };";
    let error = parse_c_definitions(text, &types).expect_err("recursive by value");
    assert!(error.message.contains("incomplete"), "{}", error.message);

    let text = "struct Foo { pid_tt x; };";
    let error = parse_c_definitions(text, &types).expect_err("unknown typedef");
    assert_eq!(text.get(error.span.clone()), Some("pid_tt"));

    for garbage in [
        "struct",
        "struct {",
        "struct X { int a",
        "}",
        "enum E { A = }",
        "struct X { int a[-1]; }",
        "@",
        "/*",
    ] {
        assert!(parse_c_definitions(garbage, &types).is_err(), "{garbage}");
    }
    let without_btf = KernelTypes::without_btf();
    let error = parse_c_definitions("struct Foo { struct task_struct *t; }", &without_btf)
        .expect_err("needs BTF");
    assert!(error.message.contains("BTF"), "{}", error.message);
    // Script-only definitions work without BTF.
    assert!(parse_c_definitions("struct Foo { int a; char name[16]; };", &without_btf).is_ok());
}

#[test]
fn stale_definitions_are_refused() {
    let mut types = fixture_types();
    let first = parse_c_definitions("struct One { int a; };", &types).expect("one");
    let second = parse_c_definitions("struct Two { int b; };", &types).expect("two");
    types.add_definitions(first).expect("first fits");
    assert_eq!(
        types.add_definitions(second).err(),
        Some(KtypesError::StaleDefinitions)
    );
}

#[test]
fn kernel_headers_are_satisfied_by_btf() {
    assert!(matches!(
        include_is_satisfied("linux/sched.h", true),
        IncludeOutcome::SatisfiedByBtf { .. }
    ));
    assert!(matches!(
        include_is_satisfied("net/sock.h", true),
        IncludeOutcome::SatisfiedByBtf { .. }
    ));
    assert!(matches!(
        include_is_satisfied("stdint.h", true),
        IncludeOutcome::SatisfiedByBtf { .. }
    ));
    assert_eq!(
        include_is_satisfied("mine.h", false),
        IncludeOutcome::UserHeader {
            path: "mine.h".to_string()
        }
    );
}

#[test]
fn c_rendering_of_declarators() {
    let pointer_to_array = CType::pointer_to(CType::array_of(CType::int(4, true), 4));
    assert_eq!(pointer_to_array.to_string(), "int (*)[4]");
    let array_of_pointers = CType::array_of(CType::pointer_to(CType::CHAR), 2);
    assert_eq!(
        array_of_pointers.render_declaration("argv"),
        "char *argv[2]"
    );
    assert_eq!(
        CType::int(8, false).render_declaration("x"),
        "unsigned long x"
    );
}

#[test]
fn edit_distance_counts_transpositions_once() {
    assert_eq!(crate::edit_distance("tgdi", "tgid"), 1);
    assert_eq!(crate::edit_distance("", "abc"), 3);
    assert_eq!(crate::edit_distance("kitten", "sitting"), 3);
    assert_eq!(
        crate::closest_name("pidd", ["pid", "tgid"]),
        Some("pid".to_string())
    );
    assert_eq!(crate::closest_name("zzzz", ["pid", "tgid"]), None);
}

#[test]
fn no_prefix_or_mangling_of_a_definition_panics() {
    let types = fixture_types();
    let text = "typedef struct Node { int v: 3; struct Node *next[2]; union { char c; long l; }; \
                void (*fn)(int, char *); enum E { A = -1 << 3, B } e; } node_t; \
                struct Big { char huge[4294967295]; char more[4294967295]; };";
    for end in 0..=text.len() {
        let prefix = text.get(..end).unwrap_or("");
        let _ = parse_c_definitions(prefix, &types);
        let _ = types.resolve_type_name(prefix);
        let suffix = text.get(end..).unwrap_or("");
        let _ = parse_c_definitions(suffix, &types);
    }
    for huge in [
        "struct H { char x[4294967295][4294967295][4294967295]; char y; int z: 3; };",
        "union H { char x[4294967295][4294967295][4294967295]; };",
    ] {
        let _ = parse_c_definitions(huge, &types);
    }
    let deep = format!(
        "struct D {{ {} int x; {} }};",
        "struct {".repeat(100),
        "};".repeat(100)
    );
    assert!(parse_c_definitions(&deep, &types).is_err());
    let negations = format!("enum N {{ X = {}1 }};", "-".repeat(200));
    assert!(parse_c_definitions(&negations, &types).is_err());
}
