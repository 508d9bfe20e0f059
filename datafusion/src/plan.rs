//! What the plans of this crate share: each has one input, evaluates no expressions and
//! keeps its properties computed once.

/// The `ExecutionPlan` methods of a plan with one input (`self.input`), no expressions,
/// properties in `self.properties` and its settings in `self.spec`: `name`, `properties`,
/// `children`, `apply_expressions` and `with_new_children`, which rebuilds the plan over
/// the new input with `$rebuild(spec, input)`.
macro_rules! one_input_plan {
    ($name:literal, $rebuild:path) => {
        fn name(&self) -> &str {
            $name
        }

        fn properties(&self) -> &::std::sync::Arc<::datafusion::physical_plan::PlanProperties> {
            &self.properties
        }

        fn children(
            &self,
        ) -> ::std::vec::Vec<&::std::sync::Arc<dyn ::datafusion::physical_plan::ExecutionPlan>> {
            vec![&self.input]
        }

        fn apply_expressions(
            &self,
            _f: &mut dyn FnMut(
                &::std::sync::Arc<dyn ::datafusion::physical_plan::PhysicalExpr>,
            ) -> ::datafusion::common::Result<
                ::datafusion::common::tree_node::TreeNodeRecursion,
            >,
        ) -> ::datafusion::common::Result<::datafusion::common::tree_node::TreeNodeRecursion> {
            Ok(::datafusion::common::tree_node::TreeNodeRecursion::Continue)
        }

        fn with_new_children(
            self: ::std::sync::Arc<Self>,
            children: ::std::vec::Vec<
                ::std::sync::Arc<dyn ::datafusion::physical_plan::ExecutionPlan>,
            >,
        ) -> ::datafusion::common::Result<
            ::std::sync::Arc<dyn ::datafusion::physical_plan::ExecutionPlan>,
        > {
            match <[_; 1]>::try_from(children) {
                Ok([input]) => Ok(::std::sync::Arc::new($rebuild(self.spec.clone(), input))),
                Err(children) => ::datafusion::common::internal_err!(
                    "{} has one child, given {}",
                    $name,
                    children.len()
                ),
            }
        }
    };
}

pub(crate) use one_input_plan;
