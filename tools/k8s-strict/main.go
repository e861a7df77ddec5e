// Command k8s-strict decodes Kubernetes manifests into the API server's own Go types with strict
// decoding, the check `kubectl apply --validate=strict` makes on the server: an unknown or
// duplicated field, a value of the wrong type, or an unknown apiVersion/kind is an error. It needs
// no cluster and no network. Usage: k8s-strict FILE.yaml...  (documents separated by ---).
package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: k8s-strict FILE.yaml...")
		os.Exit(2)
	}
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, autoscalingv2.AddToScheme, policyv1.AddToScheme, networkingv1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	decoder := json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme, scheme,
		json.SerializerOptions{Yaml: true, Strict: true})

	failed := false
	for _, path := range os.Args[1:] {
		content, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			failed = true
			continue
		}
		reader := utilyaml.NewYAMLReader(bufioReader(content))
		for index := 0; ; index++ {
			document, err := reader.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
				failed = true
				break
			}
			if len(bytes.TrimSpace(stripComments(document))) == 0 {
				continue
			}
			object, kind, err := decoder.Decode(document, nil, nil)
			if err != nil {
				fmt.Printf("FAIL %s#%d: %v\n", path, index, err)
				failed = true
				continue
			}
			_ = object
			fmt.Printf("ok   %s#%d: %s\n", path, index, kind.String())
		}
	}
	if failed {
		os.Exit(1)
	}
}
