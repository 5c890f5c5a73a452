# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# completions/wormhole.bash - bash completion for wormhole(1)
#
# Nothing here is a copy of the CLI's tables: commands come from `wormhole --help`, the words of
# the chain language from `wormhole create --help` (both answered without the daemon), segment ids
# from `wormhole list -q`, container names from `docker ps`. So a new command or word completes
# as soon as the CLI knows it. -H and -K given on the line are passed on to the calls that need
# the daemon.

_wormhole_commands() {
	"$1" --help 2>/dev/null | awk '/^Commands:/ { on = 1; next } /^$/ { on = 0 } on { print $1 }'
}

# the words of `create --help`: "  url URL  ..." -> "url"; with an argument -> also listed in
# _wormhole_word_args
_wormhole_words() {
	"$1" create --help 2>/dev/null | awk '/^Words/ { on = 1; next } /^$/ { on = 0 } on && /^  [a-z]/ { print $1 }'
}

# words that take an argument (their help line has an upper-case placeholder after the word)
_wormhole_word_takes_arg() {
	local cli=$1 word=$2
	"$cli" create --help 2>/dev/null | awk -v w="$word" '
		/^Words/ { on = 1; next } /^$/ { on = 0 }
		on && $1 == w { if ($2 ~ /^[A-Z]+$/) found = 1 }
		END { exit !found }'
}

_wormhole_containers() {
	command -v docker >/dev/null 2>&1 || return 0
	docker ps --format '{{.Names}}' 2>/dev/null
}

_wormhole() {
	local cur prev words cword
	if declare -F _init_completion >/dev/null; then
		_init_completion || return
	else
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD - 1]}
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	fi
	local cli=${words[0]} i cmd="" cmd_at=0 global=()

	# global options before the command; remember -H/-K for calls to the daemon
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		-H | --host | -K | --key)
			global+=("${words[i]}" "${words[i + 1]}")
			((i++))
			;;
		-H* | --host=*) global+=("${words[i]}") ;;
		-*) ;;
		*)
			cmd=${words[i]}
			cmd_at=$i
			break
			;;
		esac
	done

	if [[ -z $cmd ]]; then
		case $prev in
		-H | --host)
			mapfile -t COMPREPLY < <(compgen -W "unix:// tcp://" -- "$cur")
			compopt -o nospace 2>/dev/null
			return
			;;
		-K | --key)
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
			return
			;;
		esac
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "-H --host -K --key -h --help --version" -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -W "$(_wormhole_commands "$cli") help" -- "$cur")
		fi
		return
	fi

	case $cmd in
	create)
		# the argument of a word: container names after docker-ns, nothing to offer elsewhere
		if ((cword - 1 > cmd_at)) && _wormhole_word_takes_arg "$cli" "$prev"; then
			case $prev in
			docker-ns) mapfile -t COMPREPLY < <(compgen -W "$(_wormhole_containers)" -- "$cur") ;;
			url) mapfile -t COMPREPLY < <(compgen -W "tcp:// udp:// unix:// fd:" -- "$cur") && compopt -o nospace 2>/dev/null ;;
			esac
			return
		fi
		mapfile -t COMPREPLY < <(compgen -W "$(_wormhole_words "$cli")" -- "$cur")
		;;
	delete | show)
		((cword == cmd_at + 1)) || return
		mapfile -t COMPREPLY < <(compgen -W "$("$cli" "${global[@]}" list -q 2>/dev/null)" -- "$cur")
		;;
	list)
		mapfile -t COMPREPLY < <(compgen -W "--json --json=pretty -q --quiet --no-legend --help" -- "$cur")
		;;
	tunnel-create)
		mapfile -t COMPREPLY < <(compgen -W "--udp --help" -- "$cur")
		;;
	tunnel-list)
		mapfile -t COMPREPLY < <(compgen -W "--json --help" -- "$cur")
		;;
	keygen)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		;;
	*)
		mapfile -t COMPREPLY < <(compgen -W "--help" -- "$cur")
		;;
	esac
}

complete -F _wormhole wormhole
