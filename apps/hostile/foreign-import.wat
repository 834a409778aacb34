;; TEST-ONLY: a component that implements the connector world's handler with the right
;; types but also imports `evil:fs/files@1.0.0`, an interface outside the world. The
;; broker must refuse to install it, naming the import, and a worker must refuse to link
;; it. `build.sh` does not build it: the host's tests assemble it with the `wat` crate.
;; Its handler traps; without the import line below it is `handler-only.wat`, a valid
;; connector.
(component
  (import "evil:fs/files@1.0.0" (instance (export "read" (func (param "path" string) (result string)))))
  (core module $m
    (memory (export "memory") 1)
    (func (export "handle") (param i32) (result i32) unreachable)
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) unreachable)
  )
  (core instance $i (instantiate $m))
  (type $context' (record (field "guid" string) (field "artifact-id" s64) (field "parent-action-run" (list s64))))
  (export $context "context" (type $context'))
  (type $request' (record
    (field "action" string) (field "identifier" string) (field "parameter" string) (field "asset-config" string)
    (field "asset-id" s64) (field "asset-name" string) (field "container-id" s64) (field "action-run-id" s64)
    (field "app-run-id" s64) (field "context" $context)))
  (export $request "request" (type $request'))
  (type $status' (enum "success" "failed"))
  (export $status "status" (type $status'))
  (type $action-result' (record
    (field "status" $status) (field "message" string) (field "data" (list string)) (field "summary" string)))
  (export $action-result "action-result" (type $action-result'))
  (func $handle (param "request" $request) (result $action-result)
    (canon lift (core func $i "handle") (memory (core memory $i "memory")) (realloc (core func $i "realloc"))))
  (instance $handler (export "handle" (func $handle)))
  (export "outpost:connector/handler@0.1.0" (instance $handler))
)
