/*
Copyright 2016 The Kubernetes Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Ported from k8s.io/apiserver/pkg/server/filters/maxinflight.go: that package also holds the
// priority-and-fairness filter, which links the etcd client and zap into the binary.

package serve

import (
	"fmt"
	"net/http"

	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/endpoints/metrics"
	"k8s.io/apiserver/pkg/endpoints/request"
)

// nonMutatingRequestVerbs are the verbs limited by --max-requests-inflight; all others count
// against --max-mutating-requests-inflight.
var nonMutatingRequestVerbs = map[string]bool{"get": true, "list": true, "watch": true}

// withMaxInFlightLimit limits the requests being served at once as the generic API server does
// without priority and fairness: beyond the limit a request is rejected at once with 429 and
// Retry-After: 1, except for users of system:masters. A zero limit disables that limit. It needs
// the RequestInfo and the authenticated user in the request context.
func withMaxInFlightLimit(handler http.Handler, nonMutatingLimit, mutatingLimit int) http.Handler {
	if nonMutatingLimit == 0 && mutatingLimit == 0 {
		return handler
	}
	var nonMutatingChan, mutatingChan chan struct{}
	if nonMutatingLimit != 0 {
		nonMutatingChan = make(chan struct{}, nonMutatingLimit)
	}
	if mutatingLimit != 0 {
		mutatingChan = make(chan struct{}, mutatingLimit)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		requestInfo, ok := request.RequestInfoFrom(ctx)
		if !ok {
			http.Error(w, fmt.Sprintf("Internal Server Error: %#v", r.RequestURI), http.StatusInternalServerError)
			return
		}
		isMutatingRequest := !nonMutatingRequestVerbs[requestInfo.Verb]
		c := nonMutatingChan
		if isMutatingRequest {
			c = mutatingChan
		}
		if c == nil {
			handler.ServeHTTP(w, r)
			return
		}
		select {
		case c <- struct{}{}:
			defer func() { <-c }()
			handler.ServeHTTP(w, r)
		default:
			if u, ok := request.UserFrom(ctx); ok {
				for _, group := range u.GetGroups() {
					if group == user.SystemPrivilegedGroup {
						handler.ServeHTTP(w, r)
						return
					}
				}
			}
			metrics.RecordDroppedRequest(r, requestInfo, metrics.APIServerComponent, isMutatingRequest)
			metrics.RecordRequestTermination(r, requestInfo, metrics.APIServerComponent, http.StatusTooManyRequests)
			tooManyRequests(w, retryAfter)
		}
	})
}

const retryAfter = "1"

func tooManyRequests(w http.ResponseWriter, retryAfter string) {
	w.Header().Set("Retry-After", retryAfter)
	http.Error(w, "Too many requests, please try again later.", http.StatusTooManyRequests)
}
