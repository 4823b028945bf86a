#!/bin/sh
# wsgikit bench from several load hosts: pdsh starts one agent per host over
# ssh, all starting at one instant; rpdcp brings their parts back; wsgikit
# bench merge combines them. Needs, on every load host: wsgikit and pdsh on
# PATH (rpdcp runs pdcp there), ssh keys from here, clocks kept by NTP.
# Set the variables in the environment, or edit the defaults.
set -eu
HOSTS=${HOSTS:-'load[1-3]'}              # pdsh's host list: one agent per host
TARGET=${TARGET:-http://10.0.0.10:8080}  # the load balancer in front of the app servers
LOAD=${LOAD:--c 64 -d 30s --warmup 5s}   # each agent's load; the fleet's is the sum
LEAD=${LEAD:-20}                         # seconds for every agent to start and read its clock
export PDSH_RCMD_TYPE=ssh

at=$(($(date +%s) + LEAD))
START=$(date -u -d "@$at" +%Y-%m-%dT%H:%M:%SZ)
RUN=wsgikit-$(date -u -d "@$at" +%Y%m%dT%H%M%SZ)
pdsh -w "$HOSTS" "wsgikit bench --url fleet=$TARGET --allow-remote $LOAD --agent %h --start-at $START -o $RUN"
rpdcp -w "$HOSTS" -r "$RUN" .
wsgikit bench merge "$RUN".* -o "$RUN"
