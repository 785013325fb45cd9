//! template.yaml evaluated as CloudFormation would for some parameter values: the template's one
//! reader, `flowiq_template`, under the name the tests import it by.

pub use flowiq_template::{
    ATTRIBUTES, Attributes, PSEUDO_PARAMETERS, Stack, TableProperties, Template, TemplateError,
    each, strings, text,
};
